#!/usr/bin/python3
"""Raft snapshots on a 3-member discovery cluster of real processes (--snapshot-count 100).

Usage: snapshot_test.py [--server BIN]
Steps (each one asserts; the first failure stops the run with its message):
  tail       a follower killed while fewer keys than the kept tail (5000 entries) are written
             catches up from the leader's log, though the leader took snapshots meanwhile;
  catch-up   a follower is SIGKILLed while keys are written through the leader and the other
             follower, until the leader's raft log is compacted past what the dead member holds;
             restarted, it catches up by installing the leader's snapshot (its
             discovery_snapshots_installed_total counter moves); then every member answers the
             same recursive listing with the same X-Etcd-Index;
  crash      the same again, and the member is SIGKILLed as soon as it reports the install; it
             restarts from the installed database (hard state, log after the snapshot,
             m:applied) and the members agree again; one more write reaches everyone;
  restart    every member restarts in turn from its compacted log and the listings stay equal.
Last line: "N passed, M failed".
"""

import argparse
import concurrent.futures
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import servers  # noqa: E402

DEADLINE_SECONDS = 60
SNAPSHOT_COUNT = 100
CATCH_UP_ENTRIES = 5000  # what the member keeps behind a snapshot (etcd's figure)


def request(member, method, path, form=None, timeout=10):
    """(status, headers, body bytes) of one request."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(member.client_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def put(member, key, value):
    status, _, body = request(member, "PUT", "/v2/keys" + key, {"value": value})
    assert status in (200, 201), f"PUT {key} on {member.name}: {status} {body!r}"


def metric(member, name):
    """The value of an unlabelled series on `member`'s /metrics (0 when absent)."""
    _, _, body = request(member, "GET", "/metrics")
    match = re.search(rf"^{re.escape(name)} (\S+)$", body.decode(), re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def poll(what, check, deadline_seconds=DEADLINE_SECONDS):
    return servers.poll(check, what, deadline_seconds, interval=0.05, retry_on=(OSError,))


def write_keys(writers, prefix, count, start=0):
    """Writes prefix/<n> = n for n in [start, start + count), spread over `writers`, 16 at once."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        futures = [pool.submit(put, writers[n % len(writers)], f"{prefix}/{n}", str(n))
                   for n in range(start, start + count)]
        for future in futures:
            future.result()


def listing(member):
    status, headers, body = request(member, "GET", "/v2/keys/?recursive=true&sorted=true")
    assert status == 200, f"{member.name}: {status} {body!r}"
    return headers["X-Etcd-Index"], json.loads(body)


def assert_identical(members):
    """Polls until every member answers the same listing and X-Etcd-Index; returns the index."""
    def same():
        answers = [listing(m) for m in members]
        return answers[0][0] if all(a == answers[0] for a in answers) else None
    return poll("identical listings on " + ", ".join(m.name for m in members), same)


def kill_and_compact(cluster, prefix):
    """Kills a follower, writes until the leader's log is compacted past what it holds; returns
    (the killed member, the others, keys written)."""
    leader, followers = cluster.leader()
    victim, other = followers[0], followers[1]
    victim_applied = metric(victim, "etcd_server_proposals_applied_total")
    # Killed rather than frozen: a frozen member's socket buffers would still hold thousands of
    # entries sent before it stopped reading, enough to catch up without a snapshot.
    victim.kill9()
    written = 0
    # A little over the kept tail: the leader compacts to (its snapshot - 5000), past the member.
    while metric(leader, "discovery_raft_log_first_index") <= victim_applied + 1:
        assert written < 4 * CATCH_UP_ENTRIES, "the leader's log was never compacted"
        batch = CATCH_UP_ENTRIES + 2 * SNAPSHOT_COUNT if written == 0 else SNAPSHOT_COUNT * 2
        write_keys([leader, other], prefix, batch, start=written)
        written += batch
    assert metric(leader, "discovery_snapshots_taken_total") >= 1, "the leader took no snapshot"
    return victim, [leader, other], written


def step_tail(cluster):
    leader, followers = cluster.leader()
    victim = followers[0]
    victim.kill9()
    count = 3 * SNAPSHOT_COUNT
    write_keys([leader, followers[1]], "/tail", count)
    assert metric(leader, "discovery_snapshots_taken_total") >= 1, "the leader took no snapshot"
    victim.start()
    assert_identical(cluster.members)
    # Behind by less than the kept tail: caught up from the log, no snapshot sent.
    assert metric(victim, "discovery_snapshots_installed_total") == 0
    print(f"  {count} keys; {victim.name} caught up from the log")


def step_catch_up(cluster):
    victim, _, written = kill_and_compact(cluster, "/snap")
    victim.start()
    poll(f"{victim.name} installs a snapshot",
         lambda: metric(victim, "discovery_snapshots_installed_total") >= 1)
    index = assert_identical(cluster.members)
    _, body = listing(victim)
    snap = next(n for n in body["node"]["nodes"] if n["key"] == "/snap")
    assert len(snap["nodes"]) == written, (len(snap["nodes"]), written)
    print(f"  {written} keys; {victim.name} caught up by snapshot; all at X-Etcd-Index {index}")


def step_crash(cluster):
    victim, _, written = kill_and_compact(cluster, "/crash")
    victim.start()
    poll(f"{victim.name} installs a snapshot",
         lambda: metric(victim, "discovery_snapshots_installed_total") >= 1)
    victim.kill9()
    victim.start()
    index = assert_identical(cluster.members)
    put(victim, "/crash/after", "x")
    index_after = assert_identical(cluster.members)
    assert int(index_after) > int(index), (index, index_after)
    print(f"  {written} keys; {victim.name} killed right after installing; all at {index_after}")
    with open(victim.log_path, errors="replace") as log:
        for line in log:
            if "installed in" in line or "restored" in line:
                print("  " + line.rstrip())


def step_restart(cluster):
    for member in cluster.members:
        first = metric(member, "discovery_raft_log_first_index")
        assert first > 1, f"{member.name} never compacted its log"
        member.stop()
        member.start()
        assert metric(member, "discovery_raft_log_first_index") == first
        assert_identical(cluster.members)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    args = parser.parse_args()
    binary = servers.discovery_bin(args.server)
    steps = [("tail", step_tail), ("catch-up", step_catch_up), ("crash", step_crash), ("restart", step_restart)]
    cluster = servers.Cluster(binary, size=3)
    for member in cluster.members:
        member.extra_args += ["--snapshot-count", str(SNAPSHOT_COUNT)]
    with cluster:
        return servers.run_steps(cluster, steps)


if __name__ == "__main__":
    sys.exit(main())
