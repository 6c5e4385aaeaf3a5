#!/usr/bin/python3
"""The PXC registration flow for three fake nodes against a 3-member cluster, through a crash.

Usage: pxc_cluster_test.py [--server BIN] [--scale S] [--variant follower|leader|both]
Requests: /work/shared/reference/pxc-discovery-requests.md. Fake node i talks to member i only,
as a PXC pod talks to the one discovery address it was given, with plain HTTP (no redirects):
the entrypoint (section A: queue POST, queue GET, ipaddr/hostname PUTs, dir ttl update, quorum
listing), then the clustercheckcron refresh loop (section B, three PUTs per period). Times are
the reference's scaled by --scale (default 0.2: period 1 s, member ttl 6 s, queue ttl 12 s; 1 gives
5/30/60 s). At that scale a refresh request is bounded by one period and the loop goes on after a
failure, as the reference's loop does with `set +e`: unbounded, a write proposed to a dead leader
would wait out the server's 7 s request timeout, longer than the scaled TTL.

Per variant, on a fresh cluster with a recursive stream watcher on every member from the start:
  1. the three nodes register at once and refresh for two periods;
  2. one member is SIGKILLed (a follower, or the leader) and the node using it stops with it;
     the two other nodes keep refreshing through their own members for TTL + 1 period: every
     poll of every remaining member (quorum GET) shows their keys, and the dead node's keys
     expire meanwhile;
  3. the nodes stop refreshing; every remaining member's watcher sees each key expire exactly
     once (ipaddr, hostname, member dir per node, and the queue keys), never before the node's
     expiration and at most TOLERANCE later (the leader syncs expiry every 500 ms), the remaining
     members show the same events at the same indexes, and the listings end empty.
Against etcd (--server etcd) every step passes too. Last line: "N passed, M failed".
"""

import argparse
import datetime
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import rawhttp  # noqa: E402
import servers  # noqa: E402

CLUSTER = "percona"
BASE = f"/v2/keys/pxc-cluster/{CLUSTER}"
QUEUE = f"/v2/keys/pxc-cluster/queue/{CLUSTER}"
NODES = (("10.1.0.11", "pxc-0"), ("10.1.0.12", "pxc-1"), ("10.1.0.13", "pxc-2"))
# Expiry runs on the leader's 500 ms sync; the rest is room for a loaded 2-core CI machine.
TOLERANCE_SECONDS = 2.0
DEADLINE_SECONDS = 20.0


def http(member, method, path, form=None, timeout=DEADLINE_SECONDS):
    """One curl-like request: form-encoded body, no redirects followed, status kept.
    Returns (status, parsed JSON body or None)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(member.client_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, body = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, body = err.code, err.read()
    try:
        return status, json.loads(body)
    except ValueError:
        return status, None


def parse_time(text):
    """RFC 3339 (nanoseconds, Z) -> Unix seconds as a float."""
    whole, _, frac = text.rstrip("Z").partition(".")
    stamp = datetime.datetime.strptime(whole, "%Y-%m-%dT%H:%M:%S")
    stamp = stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
    return stamp + (float("0." + frac) if frac else 0.0)


class Timing:
    def __init__(self, scale):
        self.period = 5 * scale
        self.ttl = max(1, round(30 * scale))
        self.queue_ttl = max(1, round(60 * scale))


class FakeNode(threading.Thread):
    """One PXC container: the entrypoint, then the refresh loop until stop is set. Records every
    request it made that did not get the status the reference expects."""

    def __init__(self, member, ipaddr, hostname, timing, start_barrier):
        super().__init__(daemon=True)
        self.member = member
        self.ipaddr = ipaddr
        self.hostname = hostname
        self.timing = timing
        self.start_barrier = start_barrier
        self.stop = threading.Event()
        self.registered = threading.Event()
        self.problems = []
        self.refreshes = 0

    def put(self, label, path, form, want, timeout=DEADLINE_SECONDS):
        try:
            status, body = http(self.member, "PUT", path, form, timeout=timeout)
        except OSError as err:
            status, body = f"{type(err).__name__}", None
        if status not in want:
            self.problems.append((time.monotonic(), f"{self.hostname} {label}: {status} {body}"))
        return status in want

    def entrypoint(self):
        node = f"{BASE}/{self.ipaddr}"
        status, body = http(self.member, "POST", QUEUE,
                            {"value": self.ipaddr, "ttl": str(self.timing.queue_ttl)})
        if status != 201:
            self.problems.append((time.monotonic(), f"{self.hostname} A1: {status} {body}"))
        status, body = http(self.member, "GET", QUEUE)
        if status != 200 or not isinstance(body.get("node", {}).get("nodes"), list):
            self.problems.append((time.monotonic(),
                                  f"{self.hostname} A2 (jq .node.nodes[]): {status} {body}"))
        ttl = str(self.timing.ttl)
        self.put("A3", f"{node}/ipaddr", {"value": self.ipaddr, "ttl": ttl}, (200, 201))
        self.put("A4", f"{node}/hostname", {"value": self.hostname, "ttl": ttl}, (200, 201))
        self.put("A5", node, {"ttl": ttl, "dir": "true", "prevExist": "true"}, (200,))
        status, body = http(self.member, "GET", f"{BASE}/?quorum=true")
        keys = [n["key"] for n in (body or {}).get("node", {}).get("nodes", [])]
        if status != 200 or f"/pxc-cluster/{CLUSTER}/{self.ipaddr}" not in keys:
            self.problems.append((time.monotonic(),
                                  f"{self.hostname} A6 misses its own dir: {status} {body}"))

    def refresh(self):
        """Section B for a healthy node, each request bounded by one period (see the module
        doc); a failed request is recorded by the caller's check, not retried."""
        node = f"{BASE}/{self.ipaddr}"
        ttl = str(self.timing.ttl)
        bound = self.timing.period
        ok = self.put("B ipaddr", f"{node}/ipaddr", {"value": self.ipaddr, "ttl": ttl},
                      (200, 201), timeout=bound)
        ok &= self.put("B hostname", f"{node}/hostname", {"value": self.hostname, "ttl": ttl},
                       (200, 201), timeout=bound)
        ok &= self.put("B dir", node, {"ttl": ttl, "dir": "true", "prevExist": "true"}, (200,),
                       timeout=bound)
        return ok

    def run(self):
        self.start_barrier.wait()
        self.entrypoint()
        self.registered.set()
        while not self.stop.wait(self.timing.period):
            if self.refresh():
                self.refreshes += 1


class Watcher(threading.Thread):
    """A recursive stream watch on /pxc-cluster on one member; collects (receive time, event)."""

    def __init__(self, member):
        super().__init__(daemon=True)
        self.member = member
        self.events = []
        self.done = threading.Event()
        self.conn = rawhttp.Connection(member.client_port)
        self.conn.send(rawhttp.build_request(
            "GET", "/v2/keys/pxc-cluster?wait=true&recursive=true&stream=true"))
        self.head = self.conn.read_head(deadline=time.monotonic() + DEADLINE_SECONDS)

    def run(self):
        pending = b""
        try:
            while not self.done.is_set():
                try:
                    data = self.conn.read_chunk(time.monotonic() + 0.2)
                except TimeoutError:
                    continue
                if not data:
                    return
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    self.events.append((time.time(), json.loads(line)))
        except (OSError, rawhttp.NoResponse):
            return  # the member was killed

    def close(self):
        self.done.set()
        self.join(5)
        self.conn.close()


def node_keys(ipaddr):
    node = f"/pxc-cluster/{CLUSTER}/{ipaddr}"
    return [f"{node}/ipaddr", f"{node}/hostname", node]


def listed_nodes(member, quorum=True):
    """{ipaddr: sorted child names} from a recursive GET of the cluster dir (local to the member
    unless quorum), or None when the member did not answer 200 (a quorum read times out while
    a leader is elected)."""
    status, body = http(member, "GET", f"{BASE}/?recursive=true" + ("&quorum=true" if quorum
                                                                      else ""))
    if status != 200:
        return None
    return {n["key"].rsplit("/", 1)[1]: sorted(c["key"].rsplit("/", 1)[1]
                                                for c in n.get("nodes", []))
            for n in body["node"].get("nodes", [])}


def wait_until(predicate, what):
    servers.poll(predicate, what, DEADLINE_SECONDS, interval=0.05)


def check_expiry(watchers, expected_keys, report):
    """Every remaining member's watcher saw each key expire exactly once, on schedule, and all
    members saw the same events at the same indexes."""
    sequences = []
    for watcher in watchers:
        events = [(t, e) for t, e in watcher.events]
        expired = [(t, e) for t, e in events if e["action"] == "expire"]
        keys = sorted(e["node"]["key"] for _, e in expired)
        assert keys == sorted(expected_keys), \
            f"{watcher.member.name}: expired {keys}, want {sorted(expected_keys)}"
        lateness = []
        for received, event in expired:
            due = parse_time(event["prevNode"]["expiration"])
            late = received - due
            assert late >= 0, f"{watcher.member.name}: {event['node']['key']} expired " \
                              f"{-late:.3f}s before its expiration"
            assert late <= TOLERANCE_SECONDS, \
                f"{watcher.member.name}: {event['node']['key']} expired {late:.3f}s late"
            lateness.append(late)
        report.append(f"{watcher.member.name}: {len(expired)} expire events, lateness "
                      f"{min(lateness):.3f}..{max(lateness):.3f}s")
        sequences.append([(e["action"], e["node"]["key"], e["node"]["modifiedIndex"])
                          for _, e in events])
    assert all(s == sequences[0] for s in sequences), \
        "remaining members disagree on the event sequence: " + \
        "; ".join(str(s[-6:]) for s in sequences)


def run_variant(binary, timing, kill_leader):
    report = []
    with servers.Cluster(binary, size=3) as cluster:
        members = cluster.members
        watchers = [Watcher(m) for m in members]
        for watcher in watchers:
            watcher.start()
        barrier = threading.Barrier(len(NODES))
        nodes = [FakeNode(members[i], ip, host, timing, barrier)
                 for i, (ip, host) in enumerate(NODES)]
        try:
            for node in nodes:
                node.start()
            for node in nodes:
                assert node.registered.wait(DEADLINE_SECONDS), f"{node.hostname} not registered"
            wait_until(lambda: all(n.refreshes >= 2 for n in nodes), "two refreshes per node")
            leader, followers = cluster.leader()
            victim = leader if kill_leader else followers[0]
            dead = next(n for n in nodes if n.member is victim)
            dead.stop.set()
            dead.join(DEADLINE_SECONDS)
            killed_at = time.monotonic()
            victim.kill9()
            # Until the crash every request got the answer the reference expects.
            for node in nodes:
                assert not [p for t, p in node.problems if t < killed_at], node.problems
            report.append(f"killed {victim.name} ({'leader' if kill_leader else 'follower'}), "
                          f"stopped {dead.hostname}")
            live = [n for n in nodes if n is not dead]
            remaining = [m for m in members if m is not victim]
            # The live nodes' keys stay through the crash; the dead node's keys expire.
            stay_until = time.monotonic() + timing.ttl + timing.period
            polls = 0
            while time.monotonic() < stay_until:
                for member in remaining:
                    listed = listed_nodes(member, quorum=False)
                    for node in live:
                        assert listed.get(node.ipaddr) == ["hostname", "ipaddr"], \
                            f"{member.name} lost {node.hostname}'s keys: {listed}"
                polls += 1
                time.sleep(timing.period / 2)
            report.append(f"live nodes' keys present in {polls} polls of each remaining member")
            for member in remaining:
                wait_until(lambda: dead.ipaddr not in (listed_nodes(member) or [dead.ipaddr]),
                           f"{dead.hostname}'s keys to expire on {member.name}")
            for node in live:
                node.stop.set()
                node.join(DEADLINE_SECONDS)
            # Refreshes sent while a new leader is elected may time out; the loop goes on.
            failed = [p for n in live for _, p in n.problems]
            report.append(f"{len(failed)} refresh requests failed after the crash"
                          + (f" (first: {failed[0]})" if failed else ""))
            for member in remaining:
                wait_until(lambda: listed_nodes(member) == {},
                           f"every node's keys to expire on {member.name}")
                status, body = http(member, "GET", f"{QUEUE}?quorum=true")
                assert status == 200 and "nodes" not in body["node"], \
                    f"queue keys not expired on {member.name}: {body}"
            expected = [k for ip, _ in NODES for k in node_keys(ip)]
            # Queue keys: one in-order key per node, named by its index.
            watched = [w for w in watchers if w.member is not victim]
            queue_keys = sorted({e["node"]["key"] for _, e in watched[0].events
                                 if e["action"] == "create"})
            assert len(queue_keys) == len(NODES), queue_keys
            expected += queue_keys
            wait_until(lambda: all(sum(e["action"] == "expire" for _, e in w.events)
                                   >= len(expected) for w in watched),
                       "every expire event at every remaining watcher")
            check_expiry(watched, expected, report)
        finally:
            for node in nodes:
                node.stop.set()
            for watcher in watchers:
                watcher.close()
    return report


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--scale", type=float, default=0.2,
                        help="times of the reference scaled (1: 5 s period, 30 s ttl)")
    parser.add_argument("--variant", choices=("follower", "leader", "both"), default="both")
    args = parser.parse_args()
    binary = servers.discovery_bin(args.server)
    timing = Timing(args.scale)
    print(f"period {timing.period}s, ttl {timing.ttl}s, queue ttl {timing.queue_ttl}s")
    variants = {"follower": [False], "leader": [True], "both": [False, True]}[args.variant]
    passed = failed = 0
    for kill_leader in variants:
        name = "kill-leader" if kill_leader else "kill-follower"
        started = time.monotonic()
        try:
            report = run_variant(binary, timing, kill_leader)
            passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f}s)")
            for line in report:
                print(f"  {line}")
        except Exception as err:  # noqa: BLE001 - one variant's failure is reported, go on
            failed += 1
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s): {type(err).__name__}: {err}")
        sys.stdout.flush()
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
