#!/usr/bin/python3
"""etcd's own clients against a 3-member cluster: etcdctl v2 and python-etcd given all members.

Usage: cluster_clients_test.py [--server BIN] [--etcdctl PATH]   (run with /usr/bin/python3)
Both clients first read the member list (etcdctl /v2/members, python-etcd /v2/machines) and then
talk to the advertised client URLs, so those must be right. Steps (each asserts; the first failure
stops the run, as later steps build on the cluster's state):
  etcdctl       set/get/mk/mkdir/ls/rm/update with --endpoints of all three, the same with --peers,
                a quorum get through each member alone;
  etcdctl-watch a watch through the cluster sees a write made through another member;
  membership    member list (three members, one isLeader=true, the one all members name) and
                cluster-health (every member healthy, "cluster is healthy");
  degraded      one follower SIGKILLed: cluster-health names it unreachable and says "cluster is
                degraded", writes still succeed; restarted, the cluster is healthy again;
  python-etcd   write/read/mkdir/ls/append/test_and_set/delete, a watch answered by a write through
                another member;
  py-failover   the member python-etcd talks to (the leader) SIGKILLed: the same client object
                moves to another member and its writes succeed once a new leader is elected;
                earlier keys are still there;
  unavailable   a second member SIGKILLed (no quorum): cluster-health reports "cluster is
                unavailable" (the survivor's /health says false, as etcd's does without a leader);
                a write and a quorum read on the survivor wait for a leader and time out as
                etcd's do (500, errorCode 300, index 0).
Against etcd (--server etcd) every step passes too: the harness checks itself.
Last line: "N passed, M failed".
"""

import argparse
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import servers  # noqa: E402

DEADLINE_SECONDS = 15.0
P = "/cc"


class Ctl:
    """Runs etcdctl v2 against a cluster; run() returns (exit code, stdout, stderr)."""

    def __init__(self, etcdctl, cluster):
        self.etcdctl = etcdctl
        self.cluster = cluster
        self.env = dict(os.environ, ETCDCTL_API="2")

    def endpoints(self):
        return ",".join(m.client_url for m in self.cluster.members)

    def run(self, *args, flag="--endpoints", endpoints=None):
        proc = subprocess.run([self.etcdctl, flag, endpoints or self.endpoints(), *args],
                              capture_output=True, text=True, env=self.env,
                              timeout=DEADLINE_SECONDS)
        return proc.returncode, proc.stdout, proc.stderr

    def ok(self, *args, **kwargs):
        code, out, err = self.run(*args, **kwargs)
        assert code == 0, f"etcdctl {' '.join(args)}: exit {code} {out!r} {err!r}"
        return out

    def fails(self, code_wanted, err_prefix, *args, **kwargs):
        code, out, err = self.run(*args, **kwargs)
        assert code == code_wanted and err.startswith(err_prefix), \
            f"etcdctl {' '.join(args)}: want exit {code_wanted} {err_prefix!r}, got {code} " \
            f"{out!r} {err!r}"

    def poll(self, predicate, what, *args):
        """Runs etcdctl until predicate(code, out) holds; asserts at the deadline."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            result = self.run(*args)
            if predicate(result[0], result[1]):
                return result[1]
            assert time.monotonic() < deadline, f"{what}: last {result!r}"
            time.sleep(0.1)


def running(cluster):
    return [m for m in cluster.members if m.proc is not None and m.proc.poll() is None]


def step_etcdctl(cluster, ctl):
    assert ctl.ok("set", f"{P}/a", "1") == "1\n"
    assert ctl.ok("get", f"{P}/a") == "1\n"
    ctl.fails(4, "Error:  105: Key already exists (/cc/a)", "mk", f"{P}/a", "2")
    assert ctl.ok("mk", f"{P}/b", "2") == "2\n"
    assert ctl.ok("mkdir", f"{P}/d") == ""
    assert ctl.ok("set", f"{P}/d/x", "3") == "3\n"
    assert ctl.ok("update", f"{P}/a", "4") == "4\n"
    assert ctl.ok("ls", "--sort", P) == f"{P}/a\n{P}/b\n{P}/d\n"
    assert ctl.ok("ls", "-r", "--sort", P) == f"{P}/a\n{P}/b\n{P}/d\n{P}/d/x\n"
    assert ctl.ok("rm", f"{P}/b") == "PrevNode.Value: 2\n"
    ctl.fails(4, "Error:  100: Key not found (/cc/b)", "get", f"{P}/b")
    ctl.fails(4, "Error:  108: Directory not empty (/cc/d)", "rmdir", f"{P}/d")
    assert ctl.ok("rm", "-r", f"{P}/d") == ""
    # --peers is etcdctl's older name for --endpoints.
    assert ctl.ok("get", f"{P}/a", flag="--peers") == "4\n"
    assert ctl.ok("set", f"{P}/p", "5", flag="--peers") == "5\n"
    for member in cluster.members:
        assert ctl.ok("--no-sync", "get", "--quorum", f"{P}/p",
                      endpoints=member.client_url) == "5\n", member.name


def step_etcdctl_watch(cluster, ctl):
    """The watch goes wherever etcdctl picks; the write goes through a member without it."""
    before = {m.name: m.watchers() for m in cluster.members}
    proc = subprocess.Popen([ctl.etcdctl, "--endpoints", ctl.endpoints(), "watch", f"{P}/w"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ctl.env)
    timer = threading.Timer(DEADLINE_SECONDS, proc.kill)
    timer.start()
    try:
        watched = servers.poll(
            lambda: next((m for m in cluster.members if m.watchers() > before[m.name]), None),
            "etcdctl's watcher to register on a member", DEADLINE_SECONDS, interval=0.02)
        writer = next(m for m in cluster.members if m is not watched)
        ctl.ok("--no-sync", "set", f"{P}/w", "seen", endpoints=writer.client_url)
        out, err = proc.communicate()
    finally:
        timer.cancel()
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and out == "seen\n", f"watch: {proc.returncode} {out!r} {err!r}"


def step_membership(cluster, ctl):
    leader, _ = cluster.leader()
    ids = cluster.member_ids()
    lines = ctl.ok("member", "list").splitlines()
    assert len(lines) == 3, lines
    for member in cluster.members:
        want = (f"{ids[member.name]}: name={member.name} peerURLs={member.peer_url} "
                f"clientURLs={member.client_url} isLeader={'true' if member is leader else 'false'}")
        assert want in lines, f"{want!r} not in {lines}"
    health = ctl.poll(lambda code, out: code == 0, "cluster-health", "cluster-health")
    lines = health.splitlines()
    assert lines[-1] == "cluster is healthy", health
    for member in cluster.members:
        want = f"member {ids[member.name]} is healthy: got healthy result from {member.client_url}"
        assert want in lines, f"{want!r} not in {lines}"


def step_degraded(cluster, ctl):
    _, followers = cluster.leader()
    victim = followers[0]
    ids = cluster.member_ids()
    victim.kill9()
    health = ctl.poll(lambda code, out: "cluster is degraded" in out, "degraded",
                      "cluster-health")
    want = f"member {ids[victim.name]} is unreachable: [{victim.client_url}] are all unreachable"
    assert want in health.splitlines(), health
    assert ctl.ok("set", f"{P}/degraded", "yes") == "yes\n"
    assert ctl.ok("get", "--quorum", f"{P}/degraded") == "yes\n"
    victim.start()
    ctl.poll(lambda code, out: code == 0 and out.endswith("cluster is healthy\n"),
             "healthy after restart", "cluster-health")


def step_python_etcd(cluster, clients):
    import etcd  # python3-etcd, only under /usr/bin/python3
    leader, followers = cluster.leader()
    # The leader first: python-etcd talks to the first host until it fails (py-failover).
    order = [leader] + followers
    client = etcd.Client(host=tuple(("127.0.0.1", m.client_port) for m in order),
                         allow_reconnect=True, read_timeout=5)
    clients["main"] = client
    assert client.base_uri == leader.client_url, client.base_uri
    assert sorted(client.machines) == sorted(m.client_url for m in cluster.members), \
        client.machines
    client.write("/py/a", "1")
    assert client.read("/py/a").value == "1"
    client.write("/py/d", None, dir=True)
    client.write("/py/d/x", "x", ttl=100)
    assert 99 <= client.read("/py/d/x").ttl <= 100
    queued = client.write("/py/q", "first", append=True)
    assert queued.key.startswith("/py/q/") and len(queued.key) == len("/py/q/") + 20, queued.key
    listing = client.read("/py", recursive=True, sorted=True)
    assert [n.key for n in listing.leaves] == ["/py/a", "/py/d/x", queued.key], \
        [n.key for n in listing.leaves]
    assert client.test_and_set("/py/a", "2", "1").value == "2"
    try:
        client.test_and_set("/py/a", "3", "1")
        raise AssertionError("test_and_set with a stale value succeeded")
    except ValueError:  # python-etcd raises ValueError for errorCode 101
        pass
    client.delete("/py/q", recursive=True)
    # A watch through the leader, answered by a write through a follower.
    other = etcd.Client(host="127.0.0.1", port=followers[0].client_port, read_timeout=5)
    index = client.read("/py/a").etcd_index
    got = {}
    watcher = threading.Thread(target=lambda: got.update(
        event=client.watch("/py/a", index=index + 1, timeout=DEADLINE_SECONDS)))
    watcher.start()
    other.write("/py/a", "watched")
    watcher.join(DEADLINE_SECONDS + 1)
    assert "event" in got and got["event"].value == "watched", got


def step_py_failover(cluster, clients):
    import etcd
    client = clients["main"]
    leader, followers = cluster.leader()
    assert client.base_uri == leader.client_url, client.base_uri
    leader.kill9()
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            client.write("/py/after", "failover")
            break
        except etcd.EtcdException as err:  # no leader yet: a timeout or connection error
            assert time.monotonic() < deadline, f"no write accepted after the leader died: {err}"
            time.sleep(0.1)
    assert client.base_uri in (f.client_url for f in followers), client.base_uri
    assert client.read("/py/after", quorum=True).value == "failover"
    assert client.read("/py/a", quorum=True).value == "watched"
    assert client.read("/py/d/x").value == "x"
    for follower in followers:
        pinned = etcd.Client(host="127.0.0.1", port=follower.client_port, read_timeout=5)
        assert pinned.read("/py/after", quorum=True).value == "failover", follower.name
    leader.start()


def step_unavailable(cluster, ctl):
    alive = running(cluster)
    assert len(alive) == 3, [m.name for m in alive]
    leader, followers = cluster.leader()
    leader.kill9()
    followers[0].kill9()
    ctl.poll(lambda code, out: out.endswith("cluster is unavailable\n"), "unavailable",
             "cluster-health")
    survivor = followers[1]
    code, out, err = ctl.run("--no-sync", "cluster-health", endpoints=survivor.client_url)
    assert "cluster is unavailable" in out, (code, out, err)
    # A write and a quorum read on the lone survivor wait out etcd's 7 s request timeout for a
    # leader, then answer error 300 with index 0 (both at once, to wait once).
    answers = {}

    def ask(label, method, path, data=None):
        req = urllib.request.Request(survivor.client_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=DEADLINE_SECONDS) as resp:
                answers[label] = (resp.status, resp.headers.get("X-Etcd-Index"), resp.read())
        except urllib.error.HTTPError as err:
            answers[label] = (err.code, err.headers.get("X-Etcd-Index"), err.read())
    threads = [threading.Thread(target=ask, args=("PUT", "PUT", f"/v2/keys{P}/a", b"value=x")),
               threading.Thread(target=ask, args=("quorum GET", "GET",
                                                  f"/v2/keys{P}/a?quorum=true"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(DEADLINE_SECONDS + 1)
    want = (500, "0", b'{"errorCode":300,"message":"Raft Internal Error",'
                      b'"cause":"etcdserver: request timed out","index":0}\n')
    for label in ("PUT", "quorum GET"):
        assert answers.get(label) == want, f"{label} without quorum: {answers.get(label)}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--etcdctl", default=os.environ.get("ETCDCTL_BIN", "etcdctl"))
    args = parser.parse_args()
    binary = servers.discovery_bin(args.server)
    clients = {}
    with servers.Cluster(binary, size=3) as cluster:
        ctl = Ctl(args.etcdctl, cluster)
        steps = [("etcdctl", lambda c: step_etcdctl(c, ctl)),
                 ("etcdctl-watch", lambda c: step_etcdctl_watch(c, ctl)),
                 ("membership", lambda c: step_membership(c, ctl)),
                 ("degraded", lambda c: step_degraded(c, ctl)),
                 ("python-etcd", lambda c: step_python_etcd(c, clients)),
                 ("py-failover", lambda c: step_py_failover(c, clients)),
                 ("unavailable", lambda c: step_unavailable(c, ctl))]
        return servers.run_steps(cluster, steps)


if __name__ == "__main__":
    sys.exit(main())
