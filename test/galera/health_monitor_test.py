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


def scenarios(cluster, watch, checks):
    all_writable = {1: "writable", 2: "writable", 3: "writable"}

    def all_synced():
        _, view = watch.wait_states("3 writable", all_writable)
        uuids = {b["cluster_state_uuid"] for b in view["backends"].values()}
        assert len(uuids) == 1 and "" not in uuids, uuids

    def desync():
        mark = watch.mark()
        cluster.desync(2)
        _, view = watch.wait_states("node 2 draining", {2: "draining"}, mark)
        assert watch.node(view, 2)["reason"] == "wsrep_desync=ON", watch.node(view, 2)
        assert watch.node(view, 1)["state"] == "writable"
        mark = watch.mark()
        cluster.resync(2)
        at, _ = watch.wait_states("node 2 writable again", {2: "writable"}, mark)
        recovered_through_hysteresis(watch, 2, mark, at, synced)

    def read_only():
        mark = watch.mark()
        cluster.set_global(3, "read_only", "ON")
        _, view = watch.wait_states("node 3 read_only", {3: "read_only"}, mark)
        assert watch.node(view, 3)["reason"] == "read_only=ON"
        mark = watch.mark()
        cluster.set_global(3, "read_only", "OFF")
        at, _ = watch.wait_states("node 3 writable again", {3: "writable"}, mark)
        recovered_through_hysteresis(watch, 3, mark, at, synced)

    def reject_queries():
        mark = watch.mark()
        cluster.set_global(3, "wsrep_reject_queries", "ALL")
        _, view = watch.wait_states("node 3 offline", {3: "offline"}, mark)
        # The probe still answers (SHOW works under reject ALL): offline by rule, not by failure.
        assert watch.node(view, 3)["reason"] == "wsrep_reject_queries=ALL", watch.node(view, 3)
        mark = watch.mark()
        cluster.set_global(3, "wsrep_reject_queries", "NONE")
        watch.wait_states("node 3 writable again", {3: "writable"}, mark)

    def freeze():
        mark = watch.mark()
        cluster.kill(3, signal.SIGSTOP)
        try:
            watch.wait_states("node 3 offline (frozen)", {3: "offline"}, mark)
            cluster.wait_for(lambda: all(cluster.status(i).get("wsrep_cluster_size") == "2"
                                         for i in (1, 2)), "survivors to evict node 3")
        finally:
            resumed = watch.mark()
            cluster.kill(3, signal.SIGCONT)
        at, view = watch.wait_states("node 3 writable after resume", {3: "writable"}, resumed, 60)
        # A resumed node reports its old view (Synced, Primary, old conf_id) until it notices the
        # eviction; it must not be published usable before its view caught up with the others'.
        stale = set()
        for v in watch.history(resumed)[:at - resumed + 1]:
            node3 = watch.node(v, 3)
            peers = max(watch.node(v, i)["cluster_conf_id"] for i in (1, 2))
            if node3["cluster_conf_id"] < peers and node3["local_state_comment"] == "Synced":
                stale.add(node3["probes"])
                assert node3["state"] == "offline", node3
        assert watch.node(view, 3)["cluster_conf_id"] >= max(
            watch.node(view, i)["cluster_conf_id"] for i in (1, 2)), view
        print(f"     (node 3 answered {len(stale)} probes with a stale view after SIGCONT)")

    def kill_one():
        mark = watch.mark()
        cluster.kill(3)
        at, view = watch.wait_states("node 3 offline", {3: "offline"}, mark)
        node3 = watch.node(view, 3)
        assert node3["consecutive_failures"] >= OFFLINE_AFTER, node3
        assert node3["reason"].startswith(f"{OFFLINE_AFTER} consecutive probes failed"), node3
        # The first OFFLINE_AFTER - 1 failures were tolerated: still writable with failures.
        tolerated = {watch.node(v, 3)["consecutive_failures"] for v in watch.history(mark)[
            :at - mark] if watch.node(v, 3)["state"] == "writable"}
        assert set(range(1, OFFLINE_AFTER)) <= tolerated, tolerated
        watch.wait_states("survivors writable", {1: "writable", 2: "writable"}, at)

    def restart():
        mark = watch.mark()
        cluster.start(3)
        at, _ = watch.wait_states("node 3 writable", {3: "writable"}, mark)
        recovered_through_hysteresis(watch, 3, mark, at, synced)

    def kill_two():
        mark = watch.mark()
        cluster.kill(2)
        cluster.kill(3)
        _, view = watch.wait_states("node 1 offline (non-Primary)", {1: "offline"}, mark)
        assert watch.node(view, 1)["reason"] == "wsrep_cluster_status=non-Primary", \
            watch.node(view, 1)
        watch.wait_states("all offline", {1: "offline", 2: "offline", 3: "offline"}, mark)

    checks.run("all Synced -> 3 writable, one cluster state UUID", all_synced)
    checks.run("desync 2 -> draining; resync -> writable after hysteresis", desync)
    checks.run("read_only 3 -> read_only; off -> writable after hysteresis", read_only)
    checks.run("wsrep_reject_queries=ALL on 3 -> offline; NONE -> writable", reject_queries)
    checks.run("SIGSTOP 3 until evicted, SIGCONT -> writable only with a current view", freeze)
    checks.run(f"kill 3 -> offline after {OFFLINE_AFTER} failed probes", kill_one)
    checks.run("start 3 -> writable after hysteresis", restart)
    checks.run("kill 2 and 3 -> survivor non-Primary -> offline", kill_two)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--watch", required=True, help="path of galera_health_watch")
    parser.add_argument("--keep", action="store_true", help="leave the cluster's files")
    args = parser.parse_args()
    cluster = galera.temporary_cluster()
    checks = Checks()
    watch = None
    started = time.monotonic()
    try:
        cluster.up()
        print(f"cluster up in {time.monotonic() - started:.1f}s ({cluster.root})", flush=True)
        watch = Watch(os.path.abspath(args.watch), cluster)
        scenarios(cluster, watch, checks)
    finally:
        if watch is not None:
            watch.stop()
        cluster.down()
        if not args.keep and not checks.failed:
            cluster.remove()
    print(f"{checks.passed} passed, {len(checks.failed)} failed "
          f"({time.monotonic() - started:.1f}s)")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
