#!/usr/bin/python3
"""A 3-node MariaDB Galera cluster whose nodes all crashed comes back from its most advanced node,
with no committed row lost (galera.Cluster.bootstrap_candidate, which `scripts/stack` uses).

Node 1 is killed first; rows are then committed on nodes 2 and 3, which are killed after it. Every
grastate.dat then says seqno -1 and none is safe to bootstrap, so a choice made from those files
alone falls on node 1, whose data misses the later rows. The test checks that premise, that the
candidate is node 2 or 3, and that after starting it and then the others every node holds every
row.

Usage: bootstrap_test.py [--keep]
"""

import argparse
import os
import re
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import galera  # noqa: E402

TABLE = f"{galera.TEST_DATABASE}.bootstrap_rows"


def insert(cluster, index, first, last):
    values = ",".join(f"({i})" for i in range(first, last + 1))
    cluster.sql(index, f"INSERT INTO {TABLE} VALUES {values}")


def row_count(cluster, index):
    # wsrep_sync_wait: the read waits until the node applied what the cluster committed before it.
    rows = cluster.sql(index, f"SET SESSION wsrep_sync_wait=1; SELECT COUNT(*) FROM {TABLE}")
    return int(rows[0][0])


def run(cluster):
    cluster.up(attempts=2)
    cluster.sql(1, f"CREATE TABLE {TABLE} (id INT PRIMARY KEY)")
    insert(cluster, 1, 1, 10)
    cluster.kill(1)
    cluster.wait_synced([2, 3], 2)
    insert(cluster, 2, 11, 20)
    assert row_count(cluster, 3) == 20, "node 3 did not apply node 2's rows"
    cluster.kill(2)
    cluster.kill(3)

    for node in cluster.nodes:
        state = cluster.grastate(node)
        assert re.search(r"^seqno:\s*-1\s*$", state, re.M), f"node {node.index}: {state}"
        assert re.search(r"^safe_to_bootstrap:\s*0\s*$", state, re.M), \
            f"node {node.index}: {state}"
    print("PASS every grastate.dat says seqno -1, none safe to bootstrap")

    first = cluster.bootstrap_candidate()
    assert first in (2, 3), f"bootstrap candidate is node {first}, which misses rows 11-20"
    print(f"PASS bootstrap candidate is node {first}")

    cluster.start(first)
    for node in cluster.nodes:
        if node.index != first:
            cluster.start(node.index)
    cluster.wait_synced([1, 2, 3], 3)
    counts = {n.index: row_count(cluster, n.index) for n in cluster.nodes}
    assert counts == {1: 20, 2: 20, 3: 20}, f"rows per node after the restart: {counts}"
    print("PASS all three nodes Synced again, each with all 20 rows")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the state dir")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="galera-bootstrap-")
    cluster = galera.Cluster(os.path.join(root, "cluster"))
    ok = False
    try:
        run(cluster)
        ok = True
    except (AssertionError, galera.ClusterError) as err:
        print(f"FAIL {err}")
        for node in cluster.nodes:
            print(f"--- node {node.index} log tail\n{node.log_tail(20)}")
    finally:
        cluster.down()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{1 if ok else 0} passed, {0 if ok else 1} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
