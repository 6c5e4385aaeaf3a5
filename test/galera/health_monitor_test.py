#!/usr/bin/python3
"""HealthMonitor against a real 3-node MariaDB Galera cluster (test/galera/cluster).

Usage: health_monitor_test.py --watch build/bin/galera_health_watch [--keep]
Starts its own cluster in /tmp/galera-test-*/, runs galera_health_watch (HealthMonitor, 250 ms
probes, offline after 3 failed probes, back after 3 healthy samples) and checks the published
states while it breaks the cluster: all Synced; desync; read_only; wsrep_reject_queries=ALL;
SIGKILL of one node; its restart; two nodes killed (the survivor is non-Primary). Each check polls
the watch's output up to a deadline; nothing asserts on timing.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import galera  # noqa: E402

OFFLINE_AFTER = 3
RECOVER_AFTER = 3
DEADLINE_SECONDS = 45.0


class Watch:
    """galera_health_watch as a child process; a thread keeps every view it prints."""

    def __init__(self, binary, cluster):
        env = cluster.env()
        self.proc = subprocess.Popen(
            [binary, "--backends", env["backends"], "--user", env["monitor_user"],
             "--password-file", env["monitor_password_file"], "--probe-interval-ms", "250",
             "--offline-after", str(OFFLINE_AFTER), "--recover-after", str(RECOVER_AFTER),
             "--every-sample"],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
        self.names = {n.index: n.address for n in cluster.nodes}
        self.views = []
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            view = json.loads(line)
            if view.get("heartbeat"):
                continue  # every sample is printed already (--every-sample)
            view["backends"] = {b["name"]: b for b in view["backends"]}
            with self.lock:
                self.views.append(view)

    def mark(self):
        """A position in the history: later checks look only at views printed after it."""
        with self.lock:
            return len(self.views)

    def history(self, since=0):
        with self.lock:
            return list(self.views[since:])

    def node(self, view, index):
        return view["backends"][self.names[index]]

    def wait(self, what, predicate, since=0, deadline_seconds=DEADLINE_SECONDS):
        """Polls until some view printed after `since` satisfies predicate(view); returns it."""
        deadline = time.monotonic() + deadline_seconds
        seen = since
        while time.monotonic() < deadline:
            views = self.history(seen)
            for offset, view in enumerate(views):
                if predicate(view):
                    return seen + offset, view
            seen += len(views)
            if self.proc.poll() is not None:
                raise AssertionError(f"galera_health_watch exited {self.proc.returncode}")
            time.sleep(0.05)
        last = self.history()[-1] if self.views else None
        raise AssertionError(f"timed out waiting for {what}; last view: {json.dumps(last)}")

    def wait_states(self, what, states, since=0, deadline_seconds=DEADLINE_SECONDS):
        """Waits for a view where node i is in states[i] for every i given."""
        return self.wait(what, lambda v: all(self.node(v, i)["state"] == s
                                             for i, s in states.items()),
                         since, deadline_seconds)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class Checks:
    def __init__(self):
        self.failed = []
        self.passed = 0

    def run(self, name, fn):
        started = time.monotonic()
        try:
            fn()
            self.passed += 1
            print(f"ok   {name} ({time.monotonic() - started:.1f}s)", flush=True)
        except AssertionError as err:
            self.failed.append(name)
            print(f"FAIL {name}: {err}", flush=True)


def recovered_through_hysteresis(watch, index, since, recovered_at, good):
    """Asserts that node `index` was published writable only after RECOVER_AFTER healthy
    samples: before `recovered_at` the watch printed at least RECOVER_AFTER - 1 distinct probes
    where the sample was already good but the published state was not yet writable."""
    held = {watch.node(v, index)["probes"] for v in watch.history(since)[:recovered_at - since]
            if good(watch.node(v, index)) and watch.node(v, index)["state"] != "writable"}
    assert len(held) >= RECOVER_AFTER - 1, (
        f"node {index} came back after {len(held)} healthy samples, expected "
        f">= {RECOVER_AFTER - 1} held back")


def synced(b):
    return (b["local_state_comment"] == "Synced" and b["cluster_status"] == "Primary"
            and not b["desync"] and not b["read_only"] and b["reject_queries"] == "NONE"
            and not b["probe_error"])


class Scenarios:
    """The checks, in order; each starts from the state the previous one left. `writer` is the
    node index the Router chose last; faults target it so that every check also exercises a
    writer change (or its absence)."""

    def __init__(self, cluster, watch):
        self.cluster = cluster
        self.watch = watch
        self.index = {name: i for i, name in watch.names.items()}
        self.writer = None

    def name(self, index):
        return self.watch.names[index]

    def state(self, view, index):
        return self.watch.node(view, index)["state"]

    def others(self, index):
        return [i for i in sorted(self.watch.names) if i != index]

    def writer_moved(self, since, old, why):
        """Waits for the writer change away from node `old`; checks its logged reason."""
        at, view = self.watch.wait(f"writer to move off node {old}",
                                   lambda v: v["writer_changed"], since)
        assert view["writer"] is not None and view["writer"] != self.name(old), view
        expected = f"previous writer {self.name(old)} is "
        assert view["reason"].startswith(expected), (view["reason"], expected)
        self.writer = self.index[view["writer"]]
        return at

    def writer_stays(self, since, index):
        """Node `index` came back: no writer change after `since`, for two more of its probes."""
        at, view = self.watch.wait(f"node {index} usable", lambda v: self.state(v, index) in (
            "writable", "read_only"), since)
        probes = self.watch.node(view, index)["probes"]
        self.watch.wait(f"two more probes of node {index}",
                        lambda v: self.watch.node(v, index)["probes"] >= probes + 2, at)
        changes = [v for v in self.watch.history(since) if v["writer_changed"]]
        assert not changes, f"writer changed (failback) when node {index} returned: {changes[0]}"

    def all_synced(self):
        _, view = self.watch.wait("3 writable and a writer", lambda v: v["writer"] and all(
            self.state(v, i) == "writable" for i in self.watch.names))
        uuids = {b["cluster_state_uuid"] for b in view["backends"].values()}
        assert len(uuids) == 1 and "" not in uuids, uuids
        # Equal weights: the smallest name, as on any other proxy fed the same view.
        assert view["writer"] == min(self.watch.names.values()), view
        assert sorted(view["readers"]) == sorted(self.watch.names.values()), view
        self.writer = self.index[view["writer"]]

    def desync(self):
        w, watch = self.writer, self.watch
        mark = watch.mark()
        self.cluster.desync(w)
        at = self.writer_moved(mark, w, "draining")
        assert watch.node(watch.history()[at], w)["reason"] == "wsrep_desync=ON"
        mark = watch.mark()
        self.cluster.resync(w)
        at, _ = watch.wait_states(f"node {w} writable again", {w: "writable"}, mark)
        recovered_through_hysteresis(watch, w, mark, at, synced)
        self.writer_stays(mark, w)

    def read_only(self):
        r, watch = self.others(self.writer)[0], self.watch
        mark = watch.mark()
        self.cluster.set_global(r, "read_only", "ON")
        _, view = watch.wait_states(f"node {r} read_only", {r: "read_only"}, mark)
        assert watch.node(view, r)["reason"] == "read_only=ON"
        assert self.name(r) in view["readers"], view
        assert view["writer"] == self.name(self.writer), view
        mark = watch.mark()
        self.cluster.set_global(r, "read_only", "OFF")
        at, _ = watch.wait_states(f"node {r} writable again", {r: "writable"}, mark)
        recovered_through_hysteresis(watch, r, mark, at, synced)

    def reject_queries(self):
        w, watch = self.writer, self.watch
        mark = watch.mark()
        self.cluster.set_global(w, "wsrep_reject_queries", "ALL")
        at = self.writer_moved(mark, w, "offline")
        # The probe still answers (SHOW works under reject ALL): offline by rule, not by failure.
        node = watch.node(watch.history()[at], w)
        assert node["reason"] == "wsrep_reject_queries=ALL", node
        mark = watch.mark()
        self.cluster.set_global(w, "wsrep_reject_queries", "NONE")
        self.writer_stays(mark, w)

    def freeze(self):
        w, watch, cluster = self.writer, self.watch, self.cluster
        survivors = self.others(w)
        mark = watch.mark()
        cluster.kill(w, signal.SIGSTOP)
        try:
            self.writer_moved(mark, w, "offline")
            cluster.wait_for(lambda: all(cluster.status(i).get("wsrep_cluster_size") == "2"
                                         for i in survivors), f"survivors to evict node {w}")
        finally:
            resumed = watch.mark()
            cluster.kill(w, signal.SIGCONT)
        at, view = watch.wait_states(f"node {w} writable after resume", {w: "writable"},
                                     resumed, 60)
        # A resumed node reports its old view (Synced, Primary, old conf_id) until it notices the
        # eviction; it must not be published usable before its view caught up with the others'.
        stale = set()
        for v in watch.history(resumed)[:at - resumed + 1]:
            node = watch.node(v, w)
            peers = max(watch.node(v, i)["cluster_conf_id"] for i in survivors)
            if node["cluster_conf_id"] < peers and node["local_state_comment"] == "Synced":
                stale.add(node["probes"])
                assert node["state"] == "offline", node
        assert watch.node(view, w)["cluster_conf_id"] >= max(
            watch.node(view, i)["cluster_conf_id"] for i in survivors), view
        print(f"     (node {w} answered {len(stale)} probes with a stale view after SIGCONT)")
        self.writer_stays(resumed, w)

    def kill_one(self):
        w, watch = self.writer, self.watch
        self.killed = w
        mark = watch.mark()
        self.cluster.kill(w)
        at = self.writer_moved(mark, w, "offline")
        node = watch.node(watch.history()[at], w)
        assert node["consecutive_failures"] >= OFFLINE_AFTER, node
        assert node["reason"].startswith(f"{OFFLINE_AFTER} consecutive probes failed"), node
        # The first OFFLINE_AFTER - 1 failures were tolerated: still writable with failures.
        tolerated = {watch.node(v, w)["consecutive_failures"] for v in watch.history(mark)[
            :at - mark] if self.state(v, w) == "writable"}
        assert set(range(1, OFFLINE_AFTER)) <= tolerated, tolerated
        watch.wait_states("survivors writable", {i: "writable" for i in self.others(w)}, at)

    def restart(self):
        k, w, watch = self.killed, self.writer, self.watch
        mark = watch.mark()
        # The writer donates the state transfer (IST): a short donation must not move the writer.
        self.cluster.start(k, donor=w)
        at, _ = watch.wait_states(f"node {k} writable", {k: "writable"}, mark)
        recovered_through_hysteresis(watch, k, mark, at, synced)
        self.writer_stays(mark, k)
        donor = {watch.node(v, w)["probes"] for v in watch.history(mark)
                 if watch.node(v, w)["local_state_comment"] == "Donor/Desynced"}
        print(f"     (writer node {w} was donor for {len(donor)} probes, stayed writer)")

    def kill_two(self):
        w, watch = self.writer, self.watch
        survivor, other = self.others(w)
        mark = watch.mark()
        self.cluster.kill(w)
        self.cluster.kill(other)
        _, view = watch.wait_states(f"node {survivor} offline (non-Primary)",
                                    {survivor: "offline"}, mark)
        assert watch.node(view, survivor)["reason"] == "wsrep_cluster_status=non-Primary", \
            watch.node(view, survivor)
        _, view = watch.wait("no writer", lambda v: v["writer"] is None, mark)
        assert view["readers"] == [], view

    def writer_always_writable(self):
        for view in self.watch.history():
            if view["writer"] is not None:
                state = view["backends"][view["writer"]]["state"]
                assert state == "writable", f"writer {view['writer']} was {state}: {view}"


def scenarios(cluster, watch, checks):
    s = Scenarios(cluster, watch)
    checks.run("all Synced -> 3 writable, writer = smallest name", s.all_synced)
    checks.run("desync the writer -> draining, writer moves; resync -> back, no failback",
               s.desync)
    checks.run("read_only on a reader -> read_only reader; off -> writable after hysteresis",
               s.read_only)
    checks.run("wsrep_reject_queries=ALL on the writer -> offline, writer moves; NONE -> back",
               s.reject_queries)
    checks.run("SIGSTOP the writer until evicted, SIGCONT -> usable only with a current view",
               s.freeze)
    checks.run(f"kill the writer -> offline after {OFFLINE_AFTER} failed probes, writer moves",
               s.kill_one)
    checks.run("start it (IST from the writer) -> writable after hysteresis, writer unchanged",
               s.restart)
    checks.run("kill two -> survivor non-Primary -> offline, no writer", s.kill_two)
    checks.run("the writer was writable in every published view", s.writer_always_writable)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--watch", required=True, help="path of galera_health_watch")
    parser.add_argument("--keep", action="store_true", help="leave the cluster's files")
    args = parser.parse_args()
    cluster = galera.temporary_cluster()
    checks = Checks()
    watch = None
    started = time.monotonic()
    completed = False
    try:
        cluster.up(attempts=2)
        print(f"cluster up in {time.monotonic() - started:.1f}s ({cluster.root})", flush=True)
        watch = Watch(os.path.abspath(args.watch), cluster)
        scenarios(cluster, watch, checks)
        completed = True
    finally:
        if watch is not None:
            watch.stop()
        cluster.down()
        if completed and not args.keep and not checks.failed:
            cluster.remove()
        else:
            print(f"cluster files kept in {cluster.root}")
    print(f"{checks.passed} passed, {len(checks.failed)} failed "
          f"({time.monotonic() - started:.1f}s)")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
