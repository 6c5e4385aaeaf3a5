#!/usr/bin/python3
"""Runtime membership on real processes: a 3-member cluster under a steady light write load grows
to four, changes a member's peer URL, loses a member, and keeps serving; no acknowledged write is
lost. The same script runs against a 3-member etcd 3.4 (--reference), and the deterministic
answers (status and body, member ids and ports masked) must be the same.

Usage: membership_test.py --server BIN [--reference ETCD] [--etcdctl PATH]
Steps against each server:
  add        POST /v2/members for a fourth member (etcd refuses adds for 5 s after a start
             with 500, so a 500 is retried to a deadline), a duplicate peer URL (409), a bad body
             (400), a fifth member while the fourth has not started (500); the fourth starts with
             --initial-cluster-state existing and catches up: every member shows the same
             X-Etcd-Index and the same keys (discovery: it installed a snapshot);
  update     PUT /v2/members/<id> with a new peer URL (204), with another member's (409), for an
             unknown id (404); the fourth restarts on its new peer URL and catches up again; m1
             and m2 restart with their original flags and the cluster converges (peers come
             from the stored records);
  remove     DELETE of a follower (204): it exits with status 0; again (410); PUT on it (500);
             DELETE of an unknown id (404); the others converge;
  etcdctl    etcdctl v2 member add / list / remove against the cluster;
  shrink     a follower removed (204), then the leader of the last two (204): one member is
             left and serves;
  no loss    every write the load got an answer for is on every remaining member.
Last line: "N passed, M failed".
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import servers  # noqa: E402

DEADLINE_SECONDS = 30
ETCD_ADD_GRACE_SECONDS = 20  # etcd's "connected for 5 s" rule, with slack for a loaded machine


def http(member, method, path, body=None, timeout=10):
    """(status, headers, body bytes); raises OSError when the member does not answer."""
    data = body.encode() if body is not None else None
    req = urllib.request.Request(member.client_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


class Load(threading.Thread):
    """A steady light write load: one PUT at a time, round robin over `targets`, a new key each.
    Records every acknowledged write; a write without an answer counts as unknown."""

    def __init__(self, targets):
        super().__init__(daemon=True)
        self.targets = list(targets)
        self.acked = {}
        self.failures = 0
        self.sent = 0
        self._halt = threading.Event()
        self._paused = threading.Event()
        self._idle = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        n = 0
        while not self._halt.is_set():
            if self._paused.is_set():
                self._idle.set()
                time.sleep(0.01)
                continue
            with self.lock:
                target = self.targets[n % len(self.targets)]
            key, value = f"/load/{n:06d}", f"v{n}"
            n += 1
            self.sent += 1
            try:
                status, _, _ = http(target, "PUT", f"/v2/keys{key}?value={value}", timeout=10)
            except OSError:
                status = None
            if status in (200, 201):
                self.acked[key] = value
            else:
                self.failures += 1
            time.sleep(0.02)

    def set_targets(self, targets):
        with self.lock:
            self.targets = list(targets)

    def pause(self):
        """Returns once no write is in flight."""
        self._idle.clear()
        self._paused.set()
        self._idle.wait(DEADLINE_SECONDS)

    def resume(self):
        self._paused.clear()

    def wait_progress(self, count):
        """Waits (bounded) until `count` more writes were acknowledged: the cluster serves."""
        start = len(self.acked)
        deadline = time.monotonic() + DEADLINE_SECONDS
        while len(self.acked) < start + count:
            assert time.monotonic() < deadline, f"load stalled at {len(self.acked)} acked writes"
            time.sleep(0.02)

    def stop(self):
        self._halt.set()
        self.join(DEADLINE_SECONDS)


class Masker:
    """Makes answers of two clusters comparable: member ids become the member's name (ids are
    random for added members), ports become stable names in order of first appearance, member
    lists are ordered by name (etcd orders them by id) and so is etcdctl's ETCD_INITIAL_CLUSTER."""

    def __init__(self):
        self.ids = {}  # id -> member name
        self.ports = {}

    def port(self, value):
        return self.ports.setdefault(value, f"<port{len(self.ports) + 1}>")

    def text(self, body):
        out = body.decode(errors="replace")
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and isinstance(doc.get("members"), list):
            doc["members"].sort(key=lambda m: m.get("name", ""))
            out = json.dumps(doc, separators=(",", ":")) + ("\n" if out.endswith("\n") else "")
        out = re.sub(r'ETCD_INITIAL_CLUSTER="([^"]*)"',
                     lambda m: 'ETCD_INITIAL_CLUSTER="' + ",".join(sorted(m[1].split(","))) + '"',
                     out)
        out = re.sub(r"\b[0-9a-f]{8,16}\b", lambda m: f"<id {self.ids.get(m[0], '?')}>", out)
        return re.sub(r"127\.0\.0\.1:(\d+)", lambda m: "127.0.0.1:" + self.port(m[1]), out)


class Scenario:
    """One run of the steps against one binary; `answers` collects the compared answers."""

    def __init__(self, binary, etcdctl, is_reference):
        self.binary = binary
        self.etcdctl = etcdctl
        self.is_reference = is_reference
        self.cluster = servers.Cluster(binary, 3)
        self.masker = Masker()
        self.answers = []
        self.fourth = None
        self.victim = None
        self.load = None

    def record(self, label, status, body):
        self.answers.append((label, status, self.masker.text(body)))

    def ask(self, label, member, method, path, body=None, expect=None, retry_500=False):
        deadline = time.monotonic() + ETCD_ADD_GRACE_SECONDS
        while True:
            status, headers, data = http(member, method, path, body)
            if not (retry_500 and status == 500 and time.monotonic() < deadline):
                break
            time.sleep(0.25)
        self.record(label, status, data)
        if expect is not None:
            assert status == expect, f"{label}: {status} {data!r}"
        return status, headers, data

    def running(self):
        return [m for m in self.cluster.members + [self.fourth]
                if m is not None and m.proc is not None and m.proc.poll() is None]

    def converge(self, members):
        """Pauses the load and waits until every member shows the same index and keys."""
        self.load.pause()
        try:
            deadline = time.monotonic() + DEADLINE_SECONDS
            while True:
                views = []
                for member in members:
                    status, headers, data = http(member, "GET",
                                                 "/v2/keys/load?recursive=true&sorted=true")
                    views.append((status, headers.get("X-Etcd-Index"), data))
                if len(set(views)) == 1:
                    return views[0]
                assert time.monotonic() < deadline, \
                    f"members did not converge: {[(v[0], v[1], len(v[2])) for v in views]}"
                time.sleep(0.1)
        finally:
            self.load.resume()

    def start(self):
        self.cluster.start()
        self.masker.ids = {i: name for name, i in self.cluster.member_ids().items()}
        # The member to remove later (m3, whether it leads or not: the answers then name the
        # same member on both servers); the load goes to the two others.
        self.victim_member = self.cluster.members[2]
        self.load = Load(self.cluster.members[:2])
        self.load.start()
        self.load.wait_progress(10)

    def step_add(self):
        root = self.cluster.root
        self.fourth = servers.Server(
            self.binary, name="m4", data_root=root,
            extra_args=["--initial-cluster-token", "etcd-cluster", "--initial-cluster-state",
                        "existing", "--heartbeat-interval", "100", "--election-timeout", "1000"])
        first = self.cluster.members[0]
        peer = json.dumps({"peerURLs": [self.fourth.peer_url]})
        _, _, data = self.ask("add", first, "POST", "/v2/members", peer, 201, retry_500=True)
        added_second = int(time.time())
        added = json.loads(data)
        assert added["name"] == "" and added["clientURLs"] == [], added
        self.fourth_id = added["id"]
        self.masker.ids[self.fourth_id] = "m4"
        # etcd's strict reconfiguration check comes first: while the fourth member has not
        # started, any add is refused with 500, a duplicate peer URL included.
        self.ask("add duplicate while one has not started", first, "POST", "/v2/members", peer,
                 500)
        self.ask("add bad body", first, "POST", "/v2/members", '{"peerURLs":[]}', 400)
        fifth = json.dumps({"peerURLs": [f"http://127.0.0.1:{servers.free_port()}"]})
        self.ask("add while one has not started", first, "POST", "/v2/members", fifth, 500)
        self.ask("members before start", first, "GET", "/v2/members", expect=200)
        self.fourth.initial_cluster = ",".join(
            f"{m.name}={m.peer_url}" for m in self.cluster.members + [self.fourth])
        self.load.wait_progress(10)
        self.fourth.start()
        self.load.wait_progress(10)
        self.converge(self.running())
        # A runtime member's id hashes its peer URLs with the Unix second of the add (etcd's
        # rule), so the same URLs added again within that second collide on the id ("ID
        # exists") before the URL check: the duplicate must come in a later second.
        while int(time.time()) <= added_second:
            time.sleep(0.05)
        self.ask("add duplicate peer URL", first, "POST", "/v2/members", peer, 409, retry_500=True)
        status, _, data = http(self.fourth, "GET", "/v2/members")
        names = sorted(m["name"] for m in json.loads(data)["members"])
        assert names == ["m1", "m2", "m3", "m4"], names
        if not self.is_reference:
            _, _, metrics = http(self.fourth, "GET", "/metrics")
            assert re.search(rb"^discovery_snapshots_installed_total 1$", metrics, re.M), \
                "the new member did not start from a snapshot"

    def step_update(self):
        first = self.cluster.members[0]
        self.fourth.peer_port = servers.free_port()
        moved = json.dumps({"peerURLs": [self.fourth.peer_url]})
        self.ask("update", first, "PUT", f"/v2/members/{self.fourth_id}", moved, 204)
        taken = json.dumps({"peerURLs": [first.peer_url]})
        self.ask("update to a taken URL", first, "PUT", f"/v2/members/{self.fourth_id}", taken,
                 409)
        self.ask("update unknown", first, "PUT", "/v2/members/1234", moved, 404)
        self.fourth.restart()
        self.load.wait_progress(10)
        self.converge(self.running())
        status, _, data = http(first, "GET", "/v2/members")
        listed = {m["name"]: m for m in json.loads(data)["members"]}
        assert listed["m4"]["peerURLs"] == [self.fourth.peer_url], listed
        # A rolling restart with the original flags (no m4 in --initial-cluster): peers come
        # from the stored member records, so m4 keeps being reached at its new URL.
        for member in self.cluster.members[:2]:
            member.restart()
            self.load.wait_progress(5)
            self.converge(self.running())

    def step_remove(self):
        first = self.cluster.members[0]
        victim = self.victim_member
        victim_id = self.cluster.member_ids()[victim.name]
        self.ask("remove", first, "DELETE", f"/v2/members/{victim_id}", None, 204,
                 retry_500=True)
        try:
            code = victim.proc.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError("the removed member did not stop") from None
        assert code == 0, f"the removed member exited with {code}"
        self.victim = victim
        # A removed leader leaves an election behind, during which etcd answers 500.
        self.ask("remove again", first, "DELETE", f"/v2/members/{victim_id}", None, 410,
                 retry_500=True)
        body = json.dumps({"peerURLs": [f"http://127.0.0.1:{servers.free_port()}"]})
        self.ask("update removed", first, "PUT", f"/v2/members/{victim_id}", body, 500)
        self.ask("remove unknown", first, "DELETE", "/v2/members/1234", None, 404)
        self.load.wait_progress(10)
        self.converge(self.running())
        _, _, data = http(first, "GET", "/v2/members")
        names = sorted(m["name"] for m in json.loads(data)["members"])
        assert victim.name not in names and len(names) == 3, names

    def step_etcdctl(self):
        env = dict(os.environ, ETCDCTL_API="2")
        endpoint = self.running()[0].client_url

        def run(*args):
            proc = subprocess.run([self.etcdctl, "--endpoints", endpoint, *args],
                                  capture_output=True, text=True, env=env,
                                  timeout=DEADLINE_SECONDS)
            return proc.returncode, proc.stdout + proc.stderr

        deadline = time.monotonic() + ETCD_ADD_GRACE_SECONDS
        url = f"http://127.0.0.1:{servers.free_port()}"
        while True:
            code, out = run("member", "add", "m5", url)
            if code == 0 or time.monotonic() >= deadline:
                break
            time.sleep(0.25)
        assert code == 0 and "Added member named m5 with ID" in out, out
        self.masker.ids[re.search(r"with ID ([0-9a-f]+)", out)[1]] = "m5"
        self.answers.append(("etcdctl member add", code, self.masker.text(out.encode())))
        new_id = re.search(r"with ID ([0-9a-f]+)", out)[1]
        code, out = run("member", "list")
        assert code == 0 and f"{new_id}[unstarted]: peerURLs={url}" in out, out
        assert out.count("isLeader=true") == 1, out
        code, out = run("member", "remove", new_id)
        assert code == 0 and f"Removed member {new_id} from cluster" in out, out
        self.answers.append(("etcdctl member remove", code, self.masker.text(out.encode())))

    def member_named(self, name):
        return next(m for m in self.cluster.members + [self.fourth] if m.name == name)

    def remove_and_wait(self, label, via, name, member_id):
        self.ask(label, via, "DELETE", f"/v2/members/{member_id}", None, 204, retry_500=True)
        leaving = self.member_named(name)
        try:
            code = leaving.proc.wait(timeout=DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"removed member {name} did not stop") from None
        assert code == 0, f"removed member {name} exited with {code}"

    def step_shrink(self):
        """Down to one member: a follower goes, then the leader of the last two (discovery hands
        leadership over first; etcd answers the same 204)."""
        running = self.running()
        leader_id = self.cluster.leader_id(running[0])
        ids = {m["name"]: m["id"] for m in json.loads(http(running[0], "GET", "/v2/members")[2])[
            "members"]}
        names = {v: k for k, v in ids.items()}
        leader = self.member_named(names[leader_id])
        follower = next(m for m in running if m is not leader)
        last = next(m for m in running if m is not leader and m is not follower)
        self.load.set_targets([leader, last])
        self.remove_and_wait("remove to two", leader, follower.name, ids[follower.name])
        self.load.wait_progress(10)
        self.load.set_targets([last])
        self.remove_and_wait("remove the leader of two", last, leader.name, ids[leader.name])
        self.load.wait_progress(10)
        _, _, data = http(last, "GET", "/v2/members")
        assert [m["name"] for m in json.loads(data)["members"]] == [last.name], data

    def step_no_loss(self):
        self.load.stop()
        members = self.running()
        self.converge_final(members)
        for member in members:
            _, _, data = http(member, "GET", "/v2/keys/load?recursive=true")
            stored = {n["key"]: n["value"] for n in json.loads(data)["node"].get("nodes", [])}
            lost = [k for k, v in self.load.acked.items() if stored.get(k) != v]
            assert not lost, f"{member.name} lost {len(lost)} acknowledged writes: {lost[:5]}"
        print(f"  {len(self.load.acked)} writes acknowledged, {self.load.failures} without answer")

    def converge_final(self, members):
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            views = set()
            for member in members:
                status, headers, data = http(member, "GET", "/v2/keys/load?recursive=true&sorted=true")
                views.add((status, headers.get("X-Etcd-Index"), data))
            if len(views) == 1:
                return
            assert time.monotonic() < deadline, "members did not converge"
            time.sleep(0.1)

    def cleanup(self):
        if self.load is not None:
            self.load.stop()
        if self.fourth is not None:
            self.fourth.cleanup()
        self.cluster.cleanup()


def run(binary, etcdctl, is_reference):
    """Runs every step; returns (passed, failed, answers)."""
    scenario = Scenario(binary, etcdctl, is_reference)
    passed = failed = 0
    try:
        scenario.start()
        for name in ["add", "update", "remove", "etcdctl", "shrink", "no_loss"]:
            try:
                getattr(scenario, "step_" + name)()
                print(f"ok   {name} ({os.path.basename(binary)})")
                passed += 1
            except Exception as err:  # one failing step stops the run: later ones build on it
                print(f"FAIL {name} ({os.path.basename(binary)}): {err}")
                for member in scenario.cluster.members + [scenario.fourth]:
                    if member is not None:
                        print(f"--- {member.name} log:\n{member.log_tail(15)}")
                failed += 1
                break
    finally:
        scenario.cleanup()
    return passed, failed, scenario.answers


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--reference", default=os.environ.get("REFERENCE_BIN"))
    parser.add_argument("--etcdctl", default=os.environ.get("ETCDCTL_BIN", "etcdctl"))
    args = parser.parse_args()
    passed, failed, answers = run(args.server, args.etcdctl, False)
    if args.reference and failed == 0:
        ref_passed, ref_failed, reference = run(args.reference, args.etcdctl, True)
        passed += ref_passed
        failed += ref_failed
        if ref_failed == 0:
            differences = [(a, b) for a, b in zip(answers, reference) if a != b]
            if len(answers) != len(reference):
                differences.append((f"{len(answers)} answers", f"{len(reference)} answers"))
            for ours, theirs in differences:
                print(f"DIFF server:    {ours}\n     reference: {theirs}")
            if differences:
                failed += 1
            else:
                print(f"ok   {len(answers)} answers equal to the reference's")
                passed += 1
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
