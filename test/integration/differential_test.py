#!/usr/bin/python3
"""Differential test: the same scripted v2 requests against etcd 3.4 and the server under test.

Usage: differential_test.py [--server BIN] [--reference BIN] [-k SUBSTRING] [--list] [-v]
                            [--ignore-header-order] [--cluster]
  --server     server under test ($DISCOVERY_BIN, default build/bin/discovery)
  --reference  reference server ($REFERENCE_BIN, default etcd)
  --cluster    3-member clusters instead of single members: every case runs twice, as
               "case@follower" (requests to a follower, watches on the leader) and "case@leader"
               (requests to the leader, watches on that follower)
Each side runs as a fresh single member (or cluster) on 127.0.0.1 with free ports. Every case prints PASS or
FAIL; a failure prints both masked transcripts and their diff. The last line is "N passed, M failed"
and the exit status is non-zero when anything failed.
"""

import argparse
import os
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)

import difftest  # noqa: E402
import masking  # noqa: E402
import servers  # noqa: E402
import differential_cases_keys  # noqa: E402,F401  (registers cases)
import differential_cases_watch  # noqa: E402,F401
import differential_cases_http  # noqa: E402,F401
import differential_cases_pxc  # noqa: E402,F401


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="binary under test")
    parser.add_argument("--reference", help="reference binary")
    parser.add_argument("-k", dest="filter", default="", help="run cases whose name contains this")
    parser.add_argument("--list", action="store_true", help="list cases and exit")
    parser.add_argument("-v", action="store_true", help="print transcripts of passing cases too")
    parser.add_argument("--ignore-header-order", action="store_true",
                        help="compare header lines as a sorted set (default: in arrival order)")
    parser.add_argument("--cluster", action="store_true", help="3-member clusters on both sides")
    return parser.parse_args()


def start_both(ref_bin, test_bin, make=servers.Server):
    started = {}
    errors = []

    def start(role, binary):
        try:
            started[role] = make(binary).start()
        except Exception as err:  # reported below, after both attempts
            errors.append(f"{role}: {err}")

    threads = [threading.Thread(target=start, args=("reference", ref_bin)),
               threading.Thread(target=start, args=("test", test_bin))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for server in started.values():
            server.cleanup()
        raise RuntimeError("; ".join(errors))
    return started["reference"], started["test"]


def cluster_targets(cluster):
    """{"follower": Target, "leader": Target} for a started cluster, with its members named by
    role (L, F1, F2) for the whole run. Waits until the members agree on the leader and on the
    store index after bootstrap (etcd writes its members and cluster version into the store: a
    3-member etcd 3.4 starts client writes at index 8), so no internal write lands in a case."""
    leader, followers = cluster.leader()
    followers.sort(key=lambda m: m.name)
    ids = cluster.member_ids()
    by_label = {"L": leader, "F1": followers[0], "F2": followers[1]}
    roles = masking.ClusterRoles({label: (ids[m.name], m.name, m.client_port, m.peer_port)
                                  for label, m in by_label.items()})
    first_write = 2 * len(cluster.members) + 2
    deadline = time.monotonic() + servers.START_DEADLINE_SECONDS
    while True:
        indexes = {member_index(m) for m in cluster.members}
        leaders = {cluster.leader_id(m) for m in cluster.members}
        if len(indexes) == 1 and min(indexes) >= first_write - 1 and len(leaders) == 1:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"cluster not settled: indexes {indexes}, leaders {leaders}")
        time.sleep(0.05)
    return {"follower": difftest.Target(followers[0], leader, roles),
            "leader": difftest.Target(leader, followers[0], roles)}


def member_index(member):
    with urllib.request.urlopen(member.client_url + "/v2/keys/", timeout=5) as resp:
        return int(resp.headers["X-Etcd-Index"])


def run_pairs(cases, args):
    """[(case, label suffix, reference target, test target)], the servers to clean up."""
    ref_bin = servers.reference_bin(args.reference)
    test_bin = servers.discovery_bin(args.server)
    print(f"reference: {ref_bin}\nunder test: {test_bin}")
    if not args.cluster:
        ref, test = start_both(ref_bin, test_bin)
        return [(c, "", ref, test) for c in cases], (ref, test)
    ref, test = start_both(ref_bin, test_bin, lambda binary: servers.Cluster(binary, size=3))
    try:
        ref_targets, test_targets = cluster_targets(ref), cluster_targets(test)
    except Exception:
        ref.cleanup()
        test.cleanup()
        raise
    pairs = [(c, f"@{role}", ref_targets[role], test_targets[role])
             for c in cases for role in ("follower", "leader")]
    return pairs, (ref, test)


def main():
    args = parse_args()
    cases = [c for c in difftest.CASES if args.filter in c.name]
    difftest.IGNORE_HEADER_ORDER = args.ignore_header_order
    if args.list:
        for c in cases:
            items = ",".join(str(i) for i in c.ref_items)
            print(f"{c.name}" + (f"  [behaviour items {items}]" if items else ""))
        return 0
    pairs, started_servers = run_pairs(cases, args)
    passed = failed = 0
    started = time.monotonic()
    try:
        for c, suffix, ref, test in pairs:
            t0 = time.monotonic()
            ok, report = difftest.compare(c, ref, test)
            took = time.monotonic() - t0
            if ok:
                passed += 1
                print(f"PASS {c.name}{suffix} ({took:.1f}s)" + (f"\n{report}\n" if args.v else ""))
            else:
                failed += 1
                print(f"FAIL {c.name}{suffix} ({took:.1f}s)\n{report}\n")
            sys.stdout.flush()
    finally:
        for server in started_servers:
            server.cleanup()
    print(f"total {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
