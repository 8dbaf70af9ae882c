package io.metcd.kv;

class MapKVStoreTest extends CommandContract {
    @Override
    Engine engine() {
        return Engine.map;
    }
}
