#!/usr/bin/python3
"""A 3-member discovery cluster on real processes: bootstrap, replication, clients, a crash.

Usage: cluster_test.py [--server BIN] [--etcdctl PATH]
Steps (each one asserts; the first failure stops the run with its message):
  bootstrap   three members formed from --initial-cluster; /v2/members lists all three with the
              names and client URLs they published; all agree on the leader; the first client
              write lands at index 8, as in a fresh 3-member etcd 3.4;
  replication a write sent to a follower and one sent to the leader are answered by that member
              and then read back on every member (plain reads are local: polled to a deadline);
  etcdctl     etcdctl v2 against one follower: set, get, member list (it reads /v2/members and
              then talks to the advertised client URLs);
  python-etcd python-etcd against the cluster (also reads /v2/members first);
  crash       a follower SIGKILLed: the two others keep serving writes; restarted, it catches up;
  leader      the leader SIGKILLed: the others elect a new one and serve writes; restarted, it
              catches up;
  health      two members SIGKILLed: the survivor's /health answers 503 {"health":"false"} (as
              etcd 3.4, which wants a leader and a quorum read); restarted, 200 again.
Last line: "N passed, M failed".
"""

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import servers  # noqa: E402

DEADLINE_SECONDS = 15


def request(member, method, path, form=None, timeout=5):
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    req = urllib.request.Request(member.client_url + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def put(member, key, value):
    status, body = request(member, "PUT", "/v2/keys" + key, {"value": value})
    assert status in (200, 201), f"PUT {key} on {member.name}: {status} {body}"
    return body["node"]["modifiedIndex"]


def wait_value(member, key, value):
    """Polls a plain (local) GET on `member` until `key` has `value`; asserts at the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    last = None
    while time.monotonic() < deadline:
        try:
            last = request(member, "GET", "/v2/keys" + key)
            if last[0] == 200 and last[1]["node"]["value"] == value:
                return
        except OSError as err:
            last = err
        time.sleep(0.05)
    raise AssertionError(f"{member.name}: {key} != {value!r} within {DEADLINE_SECONDS}s: {last}")


def step_bootstrap(cluster):
    status, body = request(cluster.members[0], "GET", "/v2/members")
    assert status == 200, body
    names = sorted(m["name"] for m in body["members"])
    assert names == ["m1", "m2", "m3"], body
    for listed in body["members"]:
        member = next(m for m in cluster.members if m.name == listed["name"])
        assert listed["clientURLs"] == [member.client_url], listed
        assert listed["peerURLs"] == [member.peer_url], listed
    leaders = {cluster.leader_id(m) for m in cluster.members}
    assert len(leaders) == 1 and None not in leaders, f"members disagree on the leader: {leaders}"
    assert put(cluster.members[0], "/first", "x") == 8, "first write not at index 8"


def step_replication(cluster):
    leader, followers = cluster.leader()
    for n, member in enumerate([followers[0], leader, followers[1]]):
        put(member, f"/rep/{n}", member.name)
        for other in cluster.members:
            wait_value(other, f"/rep/{n}", member.name)


def step_etcdctl(cluster, etcdctl):
    _, followers = cluster.leader()
    env = dict(os.environ, ETCDCTL_API="2")

    def run(*args):
        proc = subprocess.run([etcdctl, "--endpoints", followers[0].client_url, *args],
                              capture_output=True, text=True, env=env, timeout=DEADLINE_SECONDS)
        assert proc.returncode == 0, f"etcdctl {args}: {proc.returncode} {proc.stderr}"
        return proc.stdout

    assert run("set", "/ctl/a", "1").strip() == "1"
    assert run("get", "/ctl/a").strip() == "1"
    listing = run("member", "list")
    assert listing.count("isLeader=true") == 1, listing
    for member in cluster.members:
        assert f"clientURLs={member.client_url}" in listing, listing


def step_python_etcd(cluster):
    import etcd  # python3-etcd, only under /usr/bin/python3
    _, followers = cluster.leader()
    port = int(followers[1].client_url.rsplit(":", 1)[1])
    client = etcd.Client(host="127.0.0.1", port=port, allow_reconnect=True)
    machines = sorted(client.machines)
    assert machines == sorted(m.client_url for m in cluster.members), machines
    client.write("/py/a", "1")
    assert client.read("/py/a").value == "1"
    assert client.read("/py/a", quorum=True).value == "1"


def step_crash(cluster):
    leader, followers = cluster.leader()
    victim = followers[0]
    victim.kill9()
    for n in range(20):
        put(leader if n % 2 else followers[1], f"/crash/{n}", str(n))
    victim.start()
    for n in range(20):
        wait_value(victim, f"/crash/{n}", str(n))


def step_leader(cluster):
    leader, followers = cluster.leader()
    leader.kill9()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            put(followers[0], "/lead/a", "after")
            break
        except (AssertionError, OSError):
            assert time.monotonic() < deadline, "no write accepted after the leader died"
            time.sleep(0.1)
    wait_value(followers[1], "/lead/a", "after")
    leader.start()
    wait_value(leader, "/lead/a", "after")


def wait_health(member, status, body):
    """Polls /health on `member` until it answers `status` with `body`; asserts at the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    last = None
    while time.monotonic() < deadline:
        try:
            last = request(member, "GET", "/health", timeout=10)
            if last == (status, body):
                return
        except OSError as err:
            last = err
        time.sleep(0.1)
    raise AssertionError(f"{member.name}: /health not {status} {body} within "
                         f"{DEADLINE_SECONDS}s: {last}")


def step_health(cluster):
    survivor, others = cluster.members[0], cluster.members[1:]
    wait_health(survivor, 200, {"health": "true"})
    for member in others:
        member.kill9()
    wait_health(survivor, 503, {"health": "false"})
    for member in others:
        member.start()
    for member in cluster.members:
        wait_health(member, 200, {"health": "true"})


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--etcdctl", default=os.environ.get("ETCDCTL_BIN", "etcdctl"))
    args = parser.parse_args()
    binary = servers.discovery_bin(args.server)
    steps = [("bootstrap", step_bootstrap), ("replication", step_replication),
             ("etcdctl", lambda c: step_etcdctl(c, args.etcdctl)),
             ("python-etcd", step_python_etcd), ("crash", step_crash), ("leader", step_leader),
             ("health", step_health)]
    with servers.Cluster(binary, size=3) as cluster:
        return servers.run_steps(cluster, steps)


if __name__ == "__main__":
    sys.exit(main())
