# metcd: what each target promises is in docs/contract.md (Commands).
# ENGINE=map|mapdb|leveldb, NODES=N, DATA=dir, CLIENT_PORT_BASE, PEER_PORT_BASE and REDIS_PORT_BASE reach bin/local-cluster
# through the environment (defaults and the port layout: config/cluster.env).

JAR := target/metcd.jar

# Maven and the tests run on the JDK bin/find-jdk picks (its one-line message explains a failure).
# Options only that JDK's version accepts go to Maven's own JVM and, through the pom's
# jvm.extra.flags, to the test JVMs.
MVN = jdk=$$(bin/find-jdk) && opts=$$(bin/find-jdk --opts) && \
      JAVA_HOME=$$jdk MAVEN_OPTS="$$opts $${MAVEN_OPTS:-}" mvn -B -Djvm.extra.flags="$$opts"

.PHONY: build test chaos cluster cluster-stop cluster-clean run bench bench-engines clean

build: $(JAR) target/startup-cache.stamp

$(JAR): pom.xml $(shell find src/main -type f)
	$(MVN) -q package -DskipTests

# bin/metcd's start-up cache for this JDK (classes parsed and linked ahead): nodes start in about half the time.
target/startup-cache.stamp: $(JAR) scripts/startup-cache.sh config/jvm.options config/jvm-modules.options
	scripts/startup-cache.sh
	touch $@

# The end-to-end tests launch bin/metcd, which runs the packaged jar.
test: build
	$(MVN) test

# The fault-injection suite alone, longer than its run inside make test: CHAOS_SECONDS per engine and network,
# CHAOS_FAULTS (kill,pause,partition,one_way_partition,link_down,lossy_network,snapshot_blackhole; default all
# that the network can make), CHAOS_ENGINES (map,mapdb,leveldb; default all), CHAOS_NETWORKS (loopback: the
# nodes' own switch; namespaces: three hosts in network namespaces, the kernel cutting links, root only; default
# both), CHAOS_SEED to replay a run's choices. Reports: target/chaos/ENGINE[-namespaces].txt. Then CHAOS_STARTS
# fresh starts and restarts of bin/local-cluster, each followed at once by a write and a read on every node, and a
# kill -9 at every step of a snapshot's life (SnapshotCrashTest; make test runs three of its eleven points).
CHAOS_SECONDS ?= 60
CHAOS_STARTS ?= 10
chaos: build
	$(MVN) test -Dtest='ChaosTest,LocalClusterTest,SnapshotCrashTest' -Dsurefire.failIfNoSpecifiedTests=false \
	  -Dchaos.seconds=$(CHAOS_SECONDS) -Dchaos.namespace-engines=map,mapdb,leveldb -Dsnapshot-crash.all-points=true \
	  -Dlocal-cluster.rounds=$(CHAOS_STARTS) \
	  $(if $(CHAOS_FAULTS),-Dchaos.faults=$(CHAOS_FAULTS)) $(if $(CHAOS_SEED),-Dchaos.seed=$(CHAOS_SEED)) \
	  $(if $(CHAOS_ENGINES),-Dchaos.engines=$(CHAOS_ENGINES)) $(if $(CHAOS_NETWORKS),-Dchaos.networks=$(CHAOS_NETWORKS))

cluster: build
	bin/local-cluster start

cluster-stop:
	bin/local-cluster stop

cluster-clean:
	bin/local-cluster clean

run: build
	bin/local-cluster run

# metcd beside etcd 3.4 under the same load, faults included (scripts/bench.sh: what it measures, its settings).
bench: build
	scripts/bench.sh

# The storage engines side by side (and etcd), 1 M keys each: throughput, memory, restart times.
bench-engines: build
	BENCH=engines scripts/bench.sh

clean:
	rm -rf target
