package io.metcd.kv;

class LevelDbKVStoreTest extends PersistentKVStoreContract {
    @Override
    Engine engine() {
        return Engine.leveldb;
    }
}
