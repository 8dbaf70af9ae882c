package io.metcd.kv;

class MapKVStoreTest extends KVStoreContract {
    @Override
    Engine engine() {
        return Engine.map;
    }
}
