#!/usr/bin/python3
"""Fault test: a 3-member cluster stays linearizable and loses no acknowledged write while a
nemesis kills, pauses and partitions its members.

Usage: fault_test.py [--server BIN | --reference] [--runs N] [--duration S] [--seed N]
                     [--clients C] [--keys K] [--members 3|5] [--no-netns]
                     [--faults kill,pause,partition[,kill-majority]]
                     [--inject stale-read] [--save-history DIR] [--replay FILE [--corrupt]]
  --server BIN   the server (default $DISCOVERY_BIN, else build/bin/discovery); --reference uses
                 $REFERENCE_BIN (etcd) to check the test itself.
Each run starts a fresh cluster (support/nemesis.py), runs C client threads for S seconds doing
PUT, CAS (prevValue) and quorum GET on K register keys plus PUTs of distinct keys, each against a
random member with a short timeout, recording every operation (invoke, return, result; unknown on
timeout or a broken connection). Meanwhile the nemesis injects faults. After healing, each member
quorum-reads every register key (recorded too), every acknowledged distinct-key PUT must be
present on every member, all members must hold the same distinct keys, each key's history must be
linearizable (support/linearizability.py), no member may exit unless the nemesis killed it, and the
healed cluster must elect a leader in time.
--save-history DIR keeps each run's history as DIR/runN.json and a failed run's member logs in
DIR/runN-logs/. --inject stale-read makes member m0 answer some reads with a value it had half a
second earlier (a fake stale member) to show the checker catches it; --inject lost-write deletes
one acknowledged distinct key behind the clients' back, which the lost-write check must report;
--replay checks a saved history; --corrupt turns one read of the (live or replayed) history into a
stale read before checking.
Last line: "N passed, M failed".
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import linearizability as lin  # noqa: E402
import nemesis  # noqa: E402
import servers  # noqa: E402
from linearizability import FAIL, INF, OK, UNKNOWN, Op  # noqa: E402

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
PREFIX = "/v2/keys/jepsen"
SETTLE_SECONDS = 1.0       # clients keep going this long after the heal, to observe recovery
# Error causes (errorCode 300) with which discovery refuses a write it never proposed: no leader
# known or a leadership transfer under way, or too much uncommitted (raft::to_string of
# ProposalDropped and UncommittedTooLarge). Such a write is left out of the history, as one
# that never left the client, so a refused write that took effect anyway shows up as an anomaly
# instead of hiding among the unknown outcomes. etcd never sends these causes.
REFUSED_CAUSES = ("raft proposal dropped", "too many uncommitted entries")


class Dropped(Exception):
    """The request certainly never reached a server (connection refused): record nothing."""


class Member:
    """A client's view of one member: a keep-alive connection, reopened after any error."""

    def __init__(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn = None

    def call(self, method, path, form=None):
        """Returns (status, json body). Raises Dropped when the connection was refused."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.connect()
            except ConnectionRefusedError:
                self.close()
                raise Dropped()
        body = urllib.parse.urlencode(form) if form is not None else None
        try:
            self.conn.request(method, path, body=body, headers=FORM if body else {})
            resp = self.conn.getresponse()
            data = resp.read()
        except Exception:
            self.close()
            raise
        return resp.status, (json.loads(data) if data else {})

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class StaleReads:
    """The fake stale member (--inject stale-read): remembers what m0 answered for each key and
    sometimes answers a read with a value m0 gave at least half a second earlier."""

    def __init__(self):
        self.lock = threading.Lock()
        self.seen = {}      # key -> [(time, value)]

    def filter(self, member_index, key, value, now, rng):
        if member_index != 0:
            return value
        with self.lock:
            past = self.seen.setdefault(key, [])
            past.append((now, value))
            old = [v for t, v in past if t < now - 0.5]
            if old and rng.random() < 0.5:
                return old[-1]
        return value


class Worker(threading.Thread):
    """One client: random ops on random members until stopped; appends to its own op list."""

    def __init__(self, cid, cluster, keys, args, rng, stop, stale):
        super().__init__(daemon=True)
        self.cid, self.keys, self.rng, self.stop, self.stale = cid, keys, rng, stop, stale
        self.members = [Member(m.host, m.client_port, args.op_timeout) for m in cluster.members]
        self.ops = []
        self.acked = {}              # distinct key -> value, acknowledged PUTs
        self.known = {}              # register key -> last value this client saw
        self.num = 0
        self.refused = 0             # writes refused before proposing (REFUSED_CAUSES)
        self.lose_one = args.inject == "lost-write" and cid == 0

    def run(self):
        try:
            while not self.stop.is_set():
                self.one_op()
        finally:
            for member in self.members:
                member.close()

    def one_op(self):
        self.num += 1
        index = self.rng.randrange(len(self.members))
        member = self.members[index]
        roll = self.rng.random()
        key = self.rng.choice(self.keys)
        value = f"c{self.cid}-{self.num}"
        if roll < 0.1:
            return self.distinct_put(member, value)
        if roll < 0.5:
            op = Op(self.cid, "read", key, 0, 0, UNKNOWN)
            call = ("GET", f"{PREFIX}/r/{key}?quorum=true", None)
        elif roll < 0.75:
            op = Op(self.cid, "write", key, 0, 0, UNKNOWN, value)
            call = ("PUT", f"{PREFIX}/r/{key}", {"value": value})
        else:
            prev = self.known.get(key, "init")
            op = Op(self.cid, "cas", key, 0, 0, UNKNOWN, value, prev)
            call = ("PUT", f"{PREFIX}/r/{key}", {"value": value, "prevValue": prev})
        op.invoke = time.monotonic()
        try:
            status, body = member.call(*call)
        except Dropped:
            return
        except Exception:
            status, body = None, {}
        op.ret = time.monotonic()
        if op.kind != "read" and refused(status, body):
            self.refused += 1
            return
        self.classify(op, status, body)
        if op.kind == "read" and op.result == OK and self.stale is not None:
            op.value = self.stale.filter(index, key, op.value, op.ret, self.rng)
        if op.result == OK:
            self.known[key] = op.value
        if op.result == UNKNOWN:
            op.ret = INF
        self.ops.append(op)

    @staticmethod
    def classify(op, status, body):
        code = body.get("errorCode") if isinstance(body, dict) else None
        if op.kind == "read":
            if status == 200:
                op.result, op.value = OK, body["node"].get("value")
            elif status == 404 and code == 100:
                op.result, op.value = OK, None
        elif op.kind == "write":
            if status in (200, 201):
                op.result = OK
        elif status in (200, 201):
            op.result = OK
        elif (status, code) in ((412, 101), (404, 100)):
            op.result = FAIL

    def distinct_put(self, member, value):
        key = f"{PREFIX}/acked/{value}"
        try:
            status, _ = member.call("PUT", key, {"value": value})
        except Exception:
            return
        if status in (200, 201):
            self.acked[key] = value
            if self.lose_one and len(self.acked) == 5:
                # --inject lost-write: the write vanishes behind the client's back.
                self.lose_one = False
                try:
                    member.call("DELETE", key)
                except Exception:
                    self.lose_one = True


def refused(status, body):
    """True for discovery's answer to a write it refused without proposing (REFUSED_CAUSES)."""
    return (status == 500 and isinstance(body, dict) and body.get("errorCode") == 300 and
            body.get("cause") in REFUSED_CAUSES)


def final_reads(cluster, keys, timeout):
    """After the heal: every member quorum-reads every register key (recorded, client -1) and
    lists the distinct keys. Returns (ops, {member name: list_acked() of that member})."""
    ops, listings = [], {}
    for member in cluster.members:
        client = Member(member.host, member.client_port, timeout)
        for key in keys:
            op = Op(-1, "read", key, time.monotonic(), 0, UNKNOWN)
            try:
                status, body = client.call("GET", f"{PREFIX}/r/{key}?quorum=true")
            except Exception:
                status, body = None, {}
            op.ret = time.monotonic()
            Worker.classify(op, status, body)
            ops.append(op)
        listings[member.name] = list_acked(client)
        client.close()
    return ops, listings


def list_acked(client):
    """{key: (value, modifiedIndex)} under the distinct keys' dir (quorum read), None on error."""
    try:
        status, body = client.call("GET", f"{PREFIX}/acked?recursive=true&quorum=true")
    except Exception:
        return None
    if status != 200:
        return None
    return {n["key"]: (n.get("value"), n.get("modifiedIndex"))
            for n in body.get("node", {}).get("nodes", [])}


def diverged(cluster, listings, timeout, attempts=5):
    """Members must hold the same distinct keys with the same modifiedIndex. A write that timed
    out may still commit between two members' listings, so a difference is listed again (after
    a second) before it counts. Returns a description of the difference, or None."""
    for attempt in range(attempts):
        if attempt:
            time.sleep(1.0)   # let a late commit reach every member before listing again
            for member in cluster.members:
                client = Member(member.host, member.client_port, timeout)
                listings[member.name] = list_acked(client)
                client.close()
        found = list(listings.values())
        if None not in found and all(f == found[0] for f in found):
            return None
    names = list(listings)
    first = listings[names[0]] or {}
    for name in names[1:]:
        other = listings[name] or {}
        differ = sorted(k for k in first.keys() | other.keys() if first.get(k) != other.get(k))
        if differ:
            return (f"{names[0]} and {name} differ on {len(differ)} keys, e.g. " +
                    ", ".join(f"{k}: {first.get(k)} vs {other.get(k)}" for k in differ[:3]))
    return "a listing failed: " + ", ".join(n for n in names if listings[n] is None)


def lost_writes(acked, listings):
    """Acknowledged distinct-key PUTs missing (or wrong) on some member."""
    lost = []
    for name, found in listings.items():
        if found is None:
            lost.append(f"{name}: listing failed")
            continue
        lost += [f"{name}: {key}" for key, value in acked.items()
                 if found.get("/jepsen/acked/" + key.rsplit("/", 1)[1], (None,))[0] != value]
    return lost


def one_run(run, args, binary, rng, totals):
    """One cluster, one nemesis schedule, one check. Returns a list of failure strings."""
    keys = [f"k{i}" for i in range(args.keys)]
    cluster = nemesis.Cluster(binary, args.members, use_netns=args.netns)
    started = time.monotonic()
    failures = []
    try:
        cluster.start()
        setup = Member(cluster.members[0].host, cluster.members[0].client_port, 10)
        for key in keys:
            setup.call("PUT", f"{PREFIX}/r/{key}", {"value": "init"})
        setup.close()
        stop = threading.Event()
        stale = StaleReads() if args.inject == "stale-read" else None
        workers = [Worker(c, cluster, keys, args, random.Random(rng.random()), stop, stale)
                   for c in range(args.clients)]
        for worker in workers:
            worker.start()
        fault = nemesis.Nemesis(cluster, random.Random(rng.random()), args.faults)
        fault.run(time.monotonic() + args.duration)
        cluster.heal_all()
        cluster.wait_healthy()
        time.sleep(SETTLE_SECONDS)   # clients run on a healed cluster for a while, by design
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        final_ops, listings = final_reads(cluster, keys, 10)
        history = [op for worker in workers for op in worker.ops] + final_ops
        acked = {k: v for worker in workers for k, v in worker.acked.items()}
        totals["refused"] += sum(worker.refused for worker in workers)
        failures += check_run(run, history, acked, listings, fault, cluster, args, totals,
                              time.monotonic() - started)
        if failures:
            print("\n".join(fault.log))
    finally:
        if args.save_history and (failures or sys.exc_info()[0] is not None):
            keep_logs(cluster, os.path.join(args.save_history, f"run{run}-logs"))
        cluster.cleanup()
    return failures


def keep_logs(cluster, directory):
    """Copies every member's log out of the cluster's temp dir before cleanup removes it."""
    os.makedirs(directory, exist_ok=True)
    for member in cluster.members:
        if os.path.exists(member.log_path):
            shutil.copy(member.log_path, directory)


def check_run(run, history, acked, listings, fault, cluster, args, totals, elapsed):
    failures = []
    if args.save_history:
        os.makedirs(args.save_history, exist_ok=True)
        save_history(os.path.join(args.save_history, f"run{run}.json"), history)
    if args.corrupt:
        print(f"run {run}: corrupted " + corrupt(history))
    failures += [f"run {run}: crash: {text}" for text in cluster.crashes]
    divergence = diverged(cluster, listings, 10)
    if divergence:
        failures.append(f"run {run}: members diverged: {divergence}")
    lost = lost_writes(acked, listings)
    if lost:
        failures.append(f"run {run}: {len(lost)} times an acknowledged distinct-key write was "
                        f"missing or wrong on a member (member: key), e.g. {lost[:5]}")
    failures += check_history(f"run {run}", history, totals)
    counts = {r: sum(op.result == r for op in history) for r in (OK, FAIL, UNKNOWN)}
    totals["runs"] += 1
    totals["acked_distinct"] += len(acked)
    totals["lost"] += len(lost)
    for name, value in fault.counts.items():
        totals["faults"][name] = totals["faults"].get(name, 0) + value
    print(f"run {run} ({cluster.mode}): {len(history)} ops (ok {counts[OK]}, fail {counts[FAIL]}, "
          f"unknown {counts[UNKNOWN]}), {len(acked)} distinct acked, faults {fault.counts}, "
          f"{elapsed:.0f}s, {'FAIL' if failures else 'ok'}")
    sys.stdout.flush()
    return failures


def check_history(label, history, totals):
    """Runs the checker on one history; adds to totals; returns failure strings."""
    failures = []
    for res in lin.check_history(history, initial="init"):
        if not res.ok:
            totals["anomalies"] += 1
            failures.append(f"{label}: {res.explanation}")
    totals["ops"] += len(history)
    for result in (OK, FAIL, UNKNOWN):
        totals[result] += sum(op.result == result for op in history)
    return failures


def save_history(path, history):
    with open(path, "w") as out:
        json.dump([{"client": op.client, "kind": op.kind, "key": op.key, "invoke": op.invoke,
                    "ret": None if op.ret == INF else op.ret, "result": op.result,
                    "value": op.value, "prev": op.prev} for op in history], out, indent=0)


def load_history(path):
    with open(path) as src:
        return [Op(d["client"], d["kind"], d["key"], d["invoke"],
                   INF if d["ret"] is None else d["ret"], d["result"], d["value"], d["prev"])
                for d in json.load(src)]


def corrupt(history):
    """Turns one read into a stale read: a read R gets the value of a write A that a later write B
    (A returned before B was invoked, B returned before R was invoked) had overwritten. Values are
    unique, so no linearization can explain it. Returns a description of the edit."""
    done = sorted((op for op in history if op.result == OK and op.kind in ("write", "cas")),
                  key=lambda op: op.ret)
    for read in history:
        if read.kind != "read" or read.result != OK:
            continue
        before = [op for op in done if op.key == read.key and op.ret < read.invoke]
        for b_index in range(len(before) - 1, 0, -1):
            b = before[b_index]
            older = [a for a in before[:b_index] if a.ret < b.invoke and a.value != b.value]
            if older and older[-1].value != read.value:
                old_value, read.value = read.value, older[-1].value
                return (f"read by client {read.client} on {read.key}: "
                        f"{old_value!r} -> {read.value!r}")
    raise RuntimeError("history has no read that can be made stale")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server")
    parser.add_argument("--reference", action="store_true", help="run against $REFERENCE_BIN")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keys", type=int, default=3)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--op-timeout", type=float, default=1.0)
    parser.add_argument("--no-netns", dest="netns", action="store_false")
    parser.add_argument("--faults", type=lambda text: text.split(","),
                        default=list(nemesis.Nemesis.FAULTS),
                        help="comma-separated, from " + ",".join(nemesis.Nemesis.ALL_FAULTS))
    parser.add_argument("--inject", choices=["stale-read", "lost-write"])
    parser.add_argument("--save-history")
    parser.add_argument("--replay")
    parser.add_argument("--corrupt", action="store_true")
    args = parser.parse_args()
    unknown = set(args.faults) - set(nemesis.Nemesis.ALL_FAULTS)
    if unknown:
        parser.error(f"unknown faults {sorted(unknown)}")
    return args


def summary(totals, failures):
    for failure in failures:
        print("FAIL " + failure)
    print(f"summary: {totals['runs']} runs, {totals['ops']} ops (ok {totals[OK]}, fail "
          f"{totals[FAIL]}, unknown {totals[UNKNOWN]}; refused unproposed {totals['refused']}), "
          f"{totals['acked_distinct']} distinct acknowledged writes, faults {totals['faults']}, {totals['anomalies']} "
          f"linearizability anomalies, {totals['lost']} lost writes")
    passed = totals["runs"] - len({f.split(":")[0] for f in failures})
    print(f"{passed} passed, {totals['runs'] - passed} failed")
    return 0 if not failures else 1


def main():
    # SIGTERM (ctest stopping us) unwinds like an exception, so every cleanup still runs.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    args = parse_args()
    totals = {"runs": 0, "ops": 0, OK: 0, FAIL: 0, UNKNOWN: 0, "refused": 0, "anomalies": 0,
              "lost": 0, "acked_distinct": 0, "faults": {}}
    if args.replay:
        history = load_history(args.replay)
        if args.corrupt:
            print("corrupted " + corrupt(history))
        totals["runs"] = 1
        return summary(totals, check_history("run 1", history, totals))
    binary = servers.reference_bin() if args.reference else servers.discovery_bin(args.server)
    if args.netns and not nemesis.netns_available():
        print("network namespaces unavailable (not root, or no ip/iptables): partitions are "
              "simulated with SIGSTOP")
        args.netns = False
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    print(f"fault test: {binary}, {args.members} members, {args.runs} runs x {args.duration}s, "
          f"{args.clients} clients, seed {seed}, {'netns' if args.netns else 'loopback'}")
    rng = random.Random(seed)
    failures = []
    for run in range(1, args.runs + 1):
        try:
            failures += one_run(run, args, binary, rng, totals)
        except Exception as err:  # reported as this run's failure; the summary still prints
            totals["runs"] += 1
            failures.append(f"run {run}: did not complete: {err!r}")
    return summary(totals, failures)


if __name__ == "__main__":
    sys.exit(main())
