package io.metcd.kv;

class MapDbKVStoreTest extends PersistentKVStoreContract {
    @Override
    Engine engine() {
        return Engine.mapdb;
    }
}
