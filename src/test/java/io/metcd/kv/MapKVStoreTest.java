package io.metcd.kv;

import io.metcd.raft.Commit;
import io.metcd.raft.PendingWrite;

import java.util.concurrent.BlockingQueue;

class MapKVStoreTest extends KVStoreContract {
    @Override
    AbstractKVStore newStore(int localId, BlockingQueue<PendingWrite> proposeC, BlockingQueue<Commit> commitC) {
        return new MapKVStore(localId, proposeC, commitC);
    }
}
