#!/usr/bin/python3
"""sqlproxy follows its backends through the death of the discovery member it watches.

Usage: sqlproxy_discovery_failover_test.py --proxy build/bin/sqlproxy
                                           --discovery build/bin/discovery [unittest args]

Starts a 3-member discovery cluster (test/support/servers.py Cluster) and two plain mariadbd
(test/support/mariadb_single.py) as the nodes PXC containers would be. Each node registers in
discovery with the PXC entrypoint's requests and keeps its keys alive with the clustercheck
loop's (every 5 s; /work/shared/reference/pxc-discovery-requests.md), sent to a member that is
alive. sqlproxy gets all three members in --backends-discovery. The test SIGKILLs the member
/status says sqlproxy asks, registers one node and deletes the other through a surviving member,
and polls /status (to a deadline) until it lists exactly the new set and names a live endpoint;
then it restarts the dead member, kills the next one in use, and checks again. The nodes are not
Galera, so they stay offline in the proxy's eyes: the test is about which backends the proxy
monitors, not their health. Polls have deadlines; nothing asserts on timing.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import servers  # noqa: E402
from mariadb_single import MariaDBServer  # noqa: E402
from sqlproxy_galera import GaleraProxy  # noqa: E402

PROXY_BIN = "build/bin/sqlproxy"
DISCOVERY_BIN = "build/bin/discovery"
CLUSTER = "hawp"
DEADLINE = 60.0
CLUSTERCHECK_PERIOD = 5.0  # clustercheckcron's `sleep 5`
MONITOR_USER, MONITOR_PASSWORD = "monitor", "monitor-secret"


def poll(predicate, what, deadline=DEADLINE):
    return servers.poll(predicate, what, deadline)


def request(base, method, path, **form):
    """One curl-like request to `base` (a member's client URL); (status, body), 0 when it could
    not connect."""
    data = urllib.parse.urlencode(form).encode() if form else None
    req = urllib.request.Request(f"{base}/v2/keys/pxc-cluster{path}", method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()
    except OSError:
        return 0, ""


class Registrations(threading.Thread):
    """The PXC entrypoint and clustercheck loop of every node in `names`, sent to the member
    whose client URL is `target` (changed by the test when it kills that member). Writes retry
    until the cluster has a leader again: the point here is the keys, not curl's indifference
    to errors."""

    def __init__(self, target):
        super().__init__(daemon=True)
        self.lock = threading.Lock()
        self.names, self.target = set(), target
        self.stopping = threading.Event()

    def send(self, method, path, ok=(200, 201), **form):
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            with self.lock:
                base = self.target
            status, body = request(base, method, path, **form)
            if status in ok:
                return body
            time.sleep(0.2)
        raise AssertionError(f"{method} {path} failed until the deadline")

    def refresh(self, name):
        self.send("PUT", f"/{CLUSTER}/{name}/ipaddr", value=name, ttl=30)
        self.send("PUT", f"/{CLUSTER}/{name}/hostname", value=f"node-{name}", ttl=30)
        self.send("PUT", f"/{CLUSTER}/{name}", ttl=30, dir="true", prevExist="true")

    def register(self, name):
        """Requests A.1 to A.6, then the node is refreshed by the loop."""
        self.send("POST", f"/queue/{CLUSTER}", value=name, ttl=60)
        self.send("GET", f"/queue/{CLUSTER}")
        self.refresh(name)
        self.send("GET", f"/{CLUSTER}/?quorum=true")
        with self.lock:
            self.names.add(name)

    def deregister(self, name):
        """What clustercheckcron sends for a node that is no longer Synced."""
        with self.lock:
            self.names.discard(name)
        self.send("DELETE", f"/{CLUSTER}/{name}/?recursive=true", ok=(200, 404))

    def retarget(self, base):
        with self.lock:
            self.target = base

    def run(self):
        while not self.stopping.wait(CLUSTERCHECK_PERIOD):
            with self.lock:
                names = sorted(self.names)
            for name in names:
                self.refresh(name)

    def stop(self):
        self.stopping.set()
        self.join(timeout=30)


class DiscoveryFailoverTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Each part is stopped by a class cleanup registered as soon as it exists, so a failure
        # later in this set-up still stops what did start (cleanups run last-first).
        cls.discovery = servers.Cluster(DISCOVERY_BIN, size=3)
        cls.addClassCleanup(cls.discovery.cleanup)
        cls.discovery.start()
        cls.members = cls.discovery.members
        assert cls.discovery.leader_id(cls.members[0]), "discovery elected no leader"
        cls.nodes = []
        for _ in range(2):
            node = MariaDBServer()
            cls.addClassCleanup(node.stop)
            cls.nodes.append(node.start())
            node.admin_sql(f"CREATE USER '{MONITOR_USER}'@'127.0.0.1' "
                           f"IDENTIFIED BY '{MONITOR_PASSWORD}';")
        cls.names = [f"127.0.0.1:{node.port}" for node in cls.nodes]
        cls.registrations = Registrations(cls.members[0].client_url)
        cls.registrations.start()
        cls.addClassCleanup(cls.registrations.stop)
        endpoints = ",".join(m.client_url for m in cls.members)
        # The path once, on the last URL, as `etcdctl --endpoints` users write a list.
        cls.proxy = GaleraProxy(PROXY_BIN, discovery=f"{endpoints}/pxc-cluster/{CLUSTER}",
                                probe="100ms", monitor=(MONITOR_USER, MONITOR_PASSWORD),
                                read_only_port=False)
        cls.addClassCleanup(shutil.rmtree, cls.proxy.root, ignore_errors=True)
        cls.addClassCleanup(cls.proxy.stop)
        cls.proxy.start(wait_ready=False)

    def status(self):
        code, body = self.proxy.http("/status")
        return json.loads(body) if code in (200, 503) and body else {}

    def backends(self, status):
        return sorted(b["name"] for b in status.get("backends", []))

    def follows(self, names, dead_url):
        """/status when it lists exactly `names`, each probed at least once, and asks a member
        other than `dead_url`; None otherwise."""
        status = self.status()
        discovery = status.get("discovery") or {}
        if self.backends(status) != sorted(names) or discovery.get("endpoint") in (None, dead_url):
            return None
        if any(b["probes"] == 0 for b in status["backends"]):
            return None
        return status

    def member_at(self, url):
        return next(m for m in self.members if m.client_url == url)

    def switch_lines(self, url):
        with open(self.proxy.log_path, errors="replace") as log:
            return [line for line in log if f"discovery {url}/pxc-cluster/{CLUSTER} failed" in line]

    def test_1_follows_keys_after_the_watched_member_dies(self):
        a, b = self.names
        self.registrations.register(a)
        status = poll(lambda: self.follows([a], dead_url=""), "the first node in /status")
        discovery = status["discovery"]
        self.assertEqual(discovery["endpoints"], [m.client_url for m in self.members])
        watched = discovery["endpoint"]
        self.assertEqual(watched, self.members[0].client_url)  # the first one, while it answers
        self.assertEqual(sorted(m["name"] for m in discovery["members"]), ["m1", "m2", "m3"])

        dead = self.member_at(watched)
        dead.kill9()
        survivors = [m for m in self.members if m is not dead]
        self.registrations.retarget(survivors[1].client_url)
        self.registrations.register(b)
        self.registrations.deregister(a)
        status = poll(lambda: self.follows([b], dead_url=watched),
                      f"/status to list only {b} after {dead.name} died")
        self.assertIn(status["discovery"]["endpoint"], [m.client_url for m in survivors])
        # The switch away from the dead member is logged once, not once per retry.
        self.assertEqual(len(self.switch_lines(watched)), 1, self.proxy.log())
        self.assertIn("switching to", self.switch_lines(watched)[0])

    def test_2_a_second_switch_after_the_first_member_returns(self):
        a, b = self.names
        dead = next(m for m in self.members if m.proc.poll() is not None)
        dead.start()
        self.assertTrue(self.discovery.leader_id(dead), f"{dead.name} found no leader")
        watched = self.status()["discovery"]["endpoint"]
        self.assertNotEqual(watched, dead.client_url)  # no failing back on its own
        lines_before = len(self.switch_lines(watched))
        self.member_at(watched).kill9()
        self.registrations.retarget(dead.client_url)
        self.registrations.register(a)
        poll(lambda: self.follows([a, b], dead_url=watched),
             f"/status to list {a} and {b} after the member at {watched} died")
        self.assertEqual(len(self.switch_lines(watched)), lines_before + 1, self.proxy.log())

    def test_3_mixed_cluster_paths_are_refused(self):
        url = (f"{self.members[0].client_url}/pxc-cluster/one,"
               f"{self.members[1].client_url}/pxc-cluster/two")
        result = subprocess.run([PROXY_BIN, "--backends-discovery", url, "--listen",
                                 "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=30)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("name different cluster paths", result.stderr)


def main():
    global PROXY_BIN, DISCOVERY_BIN
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", default=os.environ.get("SQLPROXY_BIN", PROXY_BIN))
    parser.add_argument("--discovery", default=os.environ.get("DISCOVERY_BIN", DISCOVERY_BIN))
    args, rest = parser.parse_known_args()
    PROXY_BIN, DISCOVERY_BIN = os.path.abspath(args.proxy), os.path.abspath(args.discovery)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
