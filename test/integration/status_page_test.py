#!/usr/bin/python3
"""sqlproxy's status page in a real browser, in front of a real Galera cluster.

Usage: status_page_test.py --proxy build/bin/sqlproxy --discovery build/bin/discovery
                           [--screenshots build/screenshots] [--keep] [unittest args]

Starts a 3-node MariaDB Galera cluster (test/galera/cluster) and a 3-member discovery cluster;
each Galera node registers itself in discovery as a PXC container does (the entrypoint's
requests, then the clustercheck loop every 5 s: refresh while Synced and Primary, delete
otherwise; see /work/shared/reference/pxc-discovery-requests.md), through the stack's
scripts/stack/pxc_registrar.py. sqlproxy reads its backends
from one discovery member. Headless Chromium (test/support/status_page.py) then opens the
admin port's page and the test checks that it shows the writer /status names, every backend
with its state, the writer changes and the discovery members with their leader; after the
writer is SIGKILLed, that it shows the new writer and the change. Screenshots go to
--screenshots. Polls have deadlines; nothing asserts on timing.
"""

import argparse
import os
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import galera  # noqa: E402
import servers  # noqa: E402
import status_page  # noqa: E402
from sqlproxy_galera import GaleraProxy, connect  # noqa: E402

PROXY_BIN = "build/bin/sqlproxy"
DISCOVERY_BIN = "build/bin/discovery"
SCREENSHOTS = "build/screenshots"
KEEP = False
DEADLINE = 90.0
CLUSTER_NAME = "percona"
REGISTRAR = os.path.join(HERE, "..", "..", "scripts", "stack", "pxc_registrar.py")


def poll(predicate, what, deadline=DEADLINE):
    return servers.poll(predicate, what, deadline)


class PxcRegistrars:
    """scripts/stack/pxc_registrar.py for each node of `cluster` (what its PXC container's
    entrypoint and clustercheck loop send), against one discovery member's client URL; one
    process per node, as the stack runs them. Logs go to the cluster's state directory."""

    def __init__(self, cluster, client_url):
        env = cluster.env()
        self.procs = []
        for node in cluster.nodes:
            with open(os.path.join(cluster.root, f"registrar{node.index}.log"), "w") as log:
                self.procs.append(subprocess.Popen(
                    [sys.executable, REGISTRAR, "--discovery", client_url.split("//", 1)[1],
                     "--cluster", CLUSTER_NAME, "--ipaddr", node.address,
                     "--hostname", f"node{node.index}", "--port", str(node.mysql_port),
                     "--user", env["monitor_user"],
                     "--password-file", env["monitor_password_file"]],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT))

    def stop(self):
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait(timeout=30)


class StatusPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Each part is stopped by a class cleanup registered as soon as it exists, so a failure
        # later in this set-up still stops what did start (cleanups run last-first).
        cls.cluster = galera.temporary_cluster(prefix="statuspage-galera-")
        if not KEEP:
            cls.addClassCleanup(cls.cluster.remove)
            cls.addClassCleanup(cls.cluster.down)
        cls.cluster.up(attempts=2)
        cls.discovery = servers.Cluster(DISCOVERY_BIN, size=3)
        if not KEEP:
            cls.addClassCleanup(cls.discovery.cleanup)
        cls.discovery.start()
        cls.member = cls.discovery.members[0]
        cls.registrars = PxcRegistrars(cls.cluster, cls.member.client_url)
        cls.addClassCleanup(cls.registrars.stop)
        cls.proxy = GaleraProxy(
            PROXY_BIN, discovery=f"{cls.member.client_url}/pxc-cluster/{CLUSTER_NAME}",
            read_only_port=True)
        if not KEEP:
            cls.addClassCleanup(shutil.rmtree, cls.proxy.root, ignore_errors=True)
        cls.addClassCleanup(cls.proxy.stop)
        cls.proxy.start()
        cls.url = f"http://127.0.0.1:{cls.proxy.admin_port}/"

    @classmethod
    def tearDownClass(cls):
        if KEEP:
            print(f"kept cluster {cls.cluster.root}, discovery {cls.discovery.root}, "
                  f"proxy log {cls.proxy.log_path}")

    def page_agrees(self, extra=lambda dom, status: True):
        """The page's DOM when its writer and backend states equal /status read just before and
        just after it (so a change between the two reads is retried, not misread), else None."""
        before = self.proxy.status()
        dom = status_page.dump_dom(self.url)
        after = self.proxy.status()
        if not before or before.get("writer") != after.get("writer"):
            return None
        states = {b["name"]: b["state"] for b in after["backends"]}
        if status_page.writer_shown(dom) != (after["writer"] or ""):
            return None
        if status_page.backends_shown(dom) != states or not extra(dom, after):
            return None
        return dom

    def save_screenshot(self, name):
        path = status_page.screenshot(self.url, os.path.join(SCREENSHOTS, name))
        self.assertGreater(os.path.getsize(path), 10_000, "a blank screenshot")
        print(f"screenshot: {path}", file=sys.stderr)
        return path

    def test_1_page_shows_writer_backends_and_discovery(self):
        addresses = sorted(n.address for n in self.cluster.nodes)
        poll(lambda: sorted(b["name"] for b in self.proxy.status().get("backends", []))
             == addresses and self.proxy.writer(), "3 discovered backends and a writer")
        leader_id = self.discovery.leader_id(self.member)
        self.assertTrue(leader_id, "discovery elected no leader")
        # One client session on each port, so the page has sessions to count.
        rw, ro = connect(self.proxy.port), connect(self.proxy.ro_port)
        self.addCleanup(rw.close)
        self.addCleanup(ro.close)
        with ro.cursor() as cur:
            cur.execute("SELECT @@port")
            ro_name = f"127.0.0.1:{cur.fetchone()[0]}"

        def discovery_shown(dom, status):
            members = status_page.members_shown(dom)
            sessions = {b["name"]: (int(b["name"] == status["writer"]), int(b["name"] == ro_name))
                        for b in status["backends"]}
            return (sorted(m["name"] for m in members) == ["m1", "m2", "m3"]
                    and [m["id"] for m in members if m["leader"]] == [leader_id]
                    and all(b["state"] in ("writable", "readable_only")
                            for b in status["backends"])
                    and status_page.sessions_shown(dom) == sessions)

        dom = poll(lambda: self.page_agrees(discovery_shown),
                   "the page to show /status's writer, healthy backends, sessions and "
                   "discovery's leader")
        writer = status_page.writer_shown(dom)
        self.assertIn(writer, addresses)
        self.assertEqual(status_page.writer_changes_shown(dom)[-1], ("", writer))
        self.assertIn("backends from <b>discovery</b>", dom)
        self.assertIn(self.member.client_url, dom)
        self.save_screenshot("status-page.png")

    def test_2_writer_kill_shows_the_new_writer(self):
        old = poll(self.proxy.writer, "a writer")
        index = next(n.index for n in self.cluster.nodes if n.address == old)
        self.cluster.kill(index)
        new = poll(lambda: self.proxy.writer() not in ("", old) and self.proxy.writer(),
                   "a new writer after SIGKILL")

        def change_shown(dom, status):
            return (status["writer"] == new
                    and status_page.writer_changes_shown(dom)[:1] == [(old, new)]
                    and status_page.backends_shown(dom).get(old, "offline") == "offline")

        dom = poll(lambda: self.page_agrees(change_shown), "the page to show the new writer")
        self.assertEqual(status_page.writer_shown(dom), new)
        self.save_screenshot("status-page-after-writer-kill.png")


def main():
    global PROXY_BIN, DISCOVERY_BIN, SCREENSHOTS, KEEP
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", default=PROXY_BIN)
    parser.add_argument("--discovery", default=DISCOVERY_BIN)
    parser.add_argument("--screenshots", default=SCREENSHOTS)
    parser.add_argument("--keep", action="store_true")
    args, rest = parser.parse_known_args()
    PROXY_BIN, DISCOVERY_BIN = os.path.abspath(args.proxy), os.path.abspath(args.discovery)
    SCREENSHOTS, KEEP = os.path.abspath(args.screenshots), args.keep
    if not status_page.chromium_binary():
        sys.exit("chromium not found: scripts/install-deps test")
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
