#!/usr/bin/python3
"""WordPress end to end on the local stack (scripts/stack/stack.py, what scripts/up starts).

Usage: wordpress_test.py [--discovery-bin B] [--sqlproxy-bin B] [--artifacts DIR] [--keep]
The stack runs in a fresh /tmp/stack-e2e-*/ state dir on free 127.0.0.1 ports. In order:
WordPress installed through its web installer over HTTP; a login through wp-login.php with
cookies; a post published with the request the block editor's Publish button sends (the REST API
with the editor page's nonce and the login cookies); the post found on the front page. Then the
Galera node that sqlproxy's /status names as writer is SIGKILLed while a poller fetches the front
page: the front page keeps being served (failures are counted and reported; none may happen
after the first seconds, see FAILURE_GRACE_SECONDS), a second post is published, and the killed
node is restarted and rejoins (Synced, registered again in discovery, used by sqlproxy).
sqlproxy's status page, opened in headless Chromium (test/support/status_page.py), shows the
writer /status names, the writer change and discovery's members; screenshots of it and of
WordPress go to --artifacts (build/e2e/ under ctest). A second `up` leaves the stack alone.
`scripts/down` leaves no process and no bound port behind and keeps the data; `up` again
restarts every part on that data (the posts are still there); `down --purge` deletes it.
Polls have deadlines; no sleeps stand in for a condition.
"""

import argparse
import http.cookiejar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "scripts", "stack"))
sys.path.insert(0, os.path.join(REPO, "test", "support"))

import galera  # noqa: E402
import servers  # noqa: E402
import stack as stackmod  # noqa: E402
import status_page  # noqa: E402

ARGS = None
DEADLINE = 120.0
ADMIN_USER = "admin"
ADMIN_PASSWORD = "e2e-Correct-Horse-9"
POLL_PERIOD = 0.05
# The writer's death is seen by sqlproxy after its failed probes (3 x 250 ms); requests until
# then may fail. The issue allows "at most a few failed requests in the first second"; a shared
# 2-CPU machine can stretch detection, so up to MAX_FAILURES failures are allowed within this
# window after the kill (reported with their times), and none after it.
FAILURE_GRACE_SECONDS = 2.0
MAX_FAILURES = 5
WATCH_AFTER_KILL_SECONDS = 12.0  # beyond Galera's eviction of the dead node (suspect 5 s)


def poll(predicate, what, deadline=DEADLINE):
    return servers.poll(predicate, what, deadline, interval=0.1)


class Browser:
    """An HTTP client with a cookie jar (what a browser keeps between pages)."""

    def __init__(self, base):
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, path, form=None, json_body=None, headers=None, timeout=60):
        """(status, body text, final URL) after following redirects."""
        data, hdrs = None, dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs["Content-Type"] = "application/x-www-form-urlencoded"
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        req = urllib.request.Request(self.base + path, data=data, headers=hdrs)
        try:
            with self.opener.open(req, timeout=timeout) as resp:
                return resp.status, resp.read().decode(errors="replace"), resp.geturl()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode(errors="replace"), err.geturl()

    def cookie_names(self):
        return {c.name for c in self.jar}


class FrontPagePoller(threading.Thread):
    """Fetches the front page every POLL_PERIOD; records (start, end, status, found)."""

    def __init__(self, base, needle):
        super().__init__(daemon=True)
        self.base, self.needle = base, needle
        self.records = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(self.base + "/", timeout=10) as resp:
                    status, body = resp.status, resp.read().decode(errors="replace")
            except urllib.error.HTTPError as err:
                status, body = err.code, ""
            except OSError:
                status, body = 0, ""
            self.records.append((start, time.monotonic(), status, self.needle in body))
            self.stopping.wait(POLL_PERIOD)

    def stop(self):
        self.stopping.set()
        self.join(timeout=20)


class WordPressEndToEnd(unittest.TestCase):
    stack = None
    root = None

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="stack-e2e-")
        cls.figures = {}
        # Registered first, so a stack that failed half-way up is still taken down.
        cls.addClassCleanup(cls.take_down)
        started = time.monotonic()
        cls.up()
        cls.figures["up_seconds"] = time.monotonic() - started
        cls.stack = stackmod.Stack(cls.root)
        cls.browser = Browser(cls.stack.wordpress_url())

    @classmethod
    def up(cls):
        cmd = ["/usr/bin/python3", os.path.join(REPO, "scripts", "stack", "stack.py"), "up",
               "--state-dir", cls.root, "--ports", "free"]
        if ARGS.discovery_bin:
            cmd += ["--discovery-bin", ARGS.discovery_bin]
        if ARGS.sqlproxy_bin:
            cmd += ["--sqlproxy-bin", ARGS.sqlproxy_bin]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        sys.stdout.write(done.stdout)
        if done.returncode != 0:
            raise AssertionError(f"stack up failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    @classmethod
    def take_down(cls):
        if os.path.exists(os.path.join(cls.root, "stack.json")):  # idempotent, stops leftovers
            subprocess.run([os.path.join(REPO, "scripts", "down"), "--state-dir", cls.root],
                           timeout=300, check=False)
        if not ARGS.keep:
            shutil.rmtree(cls.root, ignore_errors=True)
        print("figures: " + json.dumps({k: round(v, 2) if isinstance(v, float) else v
                                         for k, v in cls.figures.items()}), flush=True)

    # ----- helpers -------------------------------------------------------------------------

    def publish(self, title, content):
        """Opens the block editor (post-new.php) and sends what its Publish button sends: a
        REST request with the page's nonce and the login cookies. Returns the post's JSON."""
        status, page, _ = self.browser.request("/wp-admin/post-new.php")
        self.assertEqual(status, 200, page[-2000:])
        nonce = re.search(r'createNonceMiddleware\(\s*"([0-9a-f]+)"\s*\)', page)
        self.assertIsNotNone(nonce, "no REST nonce on the editor page")
        status, body, _ = self.browser.request(
            "/index.php?rest_route=/wp/v2/posts",
            json_body={"title": title, "content": content, "status": "publish"},
            headers={"X-WP-Nonce": nonce.group(1)})
        self.assertEqual(status, 201, body[-2000:])
        post = json.loads(body)
        self.assertEqual(post["status"], "publish")
        return post

    def front_page_has(self, needle):
        status, body, _ = self.browser.request("/", timeout=30)
        return status == 200 and needle in body

    def node_of(self, name):
        port = int(name.rsplit(":", 1)[1])
        return next(n.index for n in self.stack.galera.nodes if n.mysql_port == port)

    # ----- the scenario, in order ----------------------------------------------------------

    def test_1_install(self):
        status, page, url = self.browser.request("/")
        self.assertEqual(status, 200)
        self.assertIn("/wp-admin/install.php", url, "a fresh site redirects to its installer")
        self.assertIn('name="weblog_title"', page)
        status, page, _ = self.browser.request("/wp-admin/install.php?step=2", form={
            "weblog_title": "hawp e2e", "user_name": ADMIN_USER,
            "admin_password": ADMIN_PASSWORD, "admin_password2": ADMIN_PASSWORD,
            "pw_weak": "on", "admin_email": "admin@example.invalid", "blog_public": "0",
            "Submit": "Install WordPress", "language": ""})
        self.assertEqual(status, 200)
        self.assertIn("Success!", page, page[-2000:])
        # The tables were created through sqlproxy and Galera replicated them to every node.
        for node in self.stack.galera.nodes:
            rows = self.stack.galera.sql(node.index, "SELECT option_value FROM "
                                         "wordpress.wp_options WHERE option_name='blogname'")
            self.assertEqual(rows, [["hawp e2e"]], f"node {node.index}")

    def test_2_login(self):
        self.browser.request("/wp-login.php")  # sets WordPress's test cookie
        status, page, url = self.browser.request("/wp-login.php", form={
            "log": ADMIN_USER, "pwd": ADMIN_PASSWORD, "wp-submit": "Log In",
            "redirect_to": self.stack.wordpress_url() + "/wp-admin/", "testcookie": "1"})
        self.assertEqual(status, 200, page[-2000:])
        self.assertTrue(url.endswith("/wp-admin/"), url)
        self.assertTrue(any(n.startswith("wordpress_logged_in_")
                            for n in self.browser.cookie_names()))
        self.assertIn("Dashboard", page)

    def test_3_publish_and_read(self):
        post = self.publish("First post through sqlproxy", "Served by a Galera cluster.")
        self.assertTrue(self.front_page_has("First post through sqlproxy"))
        status, body, _ = self.browser.request(f"/?p={post['id']}")
        self.assertEqual(status, 200)
        self.assertIn("Served by a Galera cluster.", body)

    def test_4_writer_killed(self):
        writer = self.stack.sqlproxy_status()["writer"]
        index = self.node_of(writer)
        poller = FrontPagePoller(self.stack.wordpress_url(), "First post through sqlproxy")
        poller.start()
        poll(lambda: len(poller.records) >= 5, "the poller's first front pages")
        killed_at = time.monotonic()
        self.stack.galera.kill(index)  # SIGKILL, waits until the process is gone
        poll(lambda: poller.records and poller.records[-1][0] > killed_at
             + WATCH_AFTER_KILL_SECONDS, "the poller watching past Galera's eviction",
             deadline=WATCH_AFTER_KILL_SECONDS + 60)
        new_writer = poll(lambda: (self.stack.sqlproxy_status().get("writer") or "") not in
                          ("", writer) and self.stack.sqlproxy_status()["writer"],
                          "a new writer")
        # The node's clustercheck loop (its registrar) finds it dead and deletes its keys.
        poll(lambda: writer not in self.stack.registrations(),
             f"{writer} deregistered from discovery", deadline=30)
        second = self.publish("Second post after the writer died", "Still writable.")
        poll(lambda: self.front_page_has("Second post after the writer died"),
             "the second post on the front page", deadline=30)
        poller.stop()
        after = [r for r in poller.records if r[0] >= killed_at]
        bad = [(round(r[0] - killed_at, 2), r[2]) for r in after if not (r[2] == 200 and r[3])]
        self.figures.update({
            "killed_writer": writer, "new_writer": new_writer,
            "front_pages_after_kill": len(after), "failed_front_pages": len(bad),
            "failures_first_second": sum(1 for t, _ in bad if t < 1.0),
            "last_failure_after_kill_s": max((t for t, _ in bad), default=0.0),
            "slowest_front_page_s": max(r[1] - r[0] for r in after),
            "second_post_id": second["id"]})
        print(f"writer {writer} (node {index}) SIGKILLed; front page failures after the kill "
              f"(seconds, status): {bad}", flush=True)
        late = [b for b in bad if b[0] >= FAILURE_GRACE_SECONDS]
        self.assertEqual(late, [], f"front page failed {FAILURE_GRACE_SECONDS}s after the kill")
        self.assertLessEqual(len(bad), MAX_FAILURES, bad)
        self.__class__.killed = index

    def test_5_killed_node_rejoins(self):
        index = self.__class__.killed
        node = self.stack.galera.node(index)
        self.stack.galera.start(index)  # waits for Synced
        self.assertTrue(self.stack.galera.synced(index, 3))
        name = f"127.0.0.1:{node.mysql_port}"
        poll(lambda: name in self.stack.registrations(), f"{name} registered in discovery again")
        poll(lambda: any(b.get("name") == name and b.get("state") in ("writable", "readable_only")
                         for b in self.stack.sqlproxy_status().get("backends", [])),
             f"sqlproxy using {name} again")
        rows = self.stack.galera.sql(index, "SELECT COUNT(*) FROM wordpress.wp_posts WHERE "
                                     "post_title='Second post after the writer died'")
        self.assertEqual(rows, [["1"]], "the rejoined node has the post written without it")

    def test_6_status_page(self):
        """sqlproxy's status page in headless Chromium after the failover: the writer it shows
        is /status's, the change away from the killed writer is listed, every backend is shown
        with its /status state, and discovery's three members with one leader."""
        status = self.stack.sqlproxy_status()
        url = self.stack.sqlproxy_admin_url() + "/"
        dom = status_page.dump_dom(url)
        self.assertEqual(status_page.writer_shown(dom), status["writer"])
        self.assertEqual(self.stack.sqlproxy_status()["writer"], status["writer"])
        changes = status_page.writer_changes_shown(dom)
        self.assertEqual(changes[0][1], status["writer"], changes)
        killed = f"127.0.0.1:{self.stack.galera.node(self.__class__.killed).mysql_port}"
        self.assertIn(killed, [old for old, _ in changes], changes)
        self.assertEqual(status_page.backends_shown(dom),
                         {b["name"]: b["state"] for b in status["backends"]})
        members = status_page.members_shown(dom)
        self.assertEqual(sorted(m["name"] for m in members), ["d1", "d2", "d3"], members)
        self.assertEqual(sum(m["leader"] for m in members), 1, members)
        for name, page in (("status-page.png", url), ("wordpress.png", self.stack.wordpress_url())):
            path = status_page.screenshot(page, os.path.join(ARGS.artifacts, name))
            self.assertGreater(os.path.getsize(path), 10_000, f"a blank screenshot {path}")
            print(f"screenshot: {path}", flush=True)

    def test_7_second_up_reuses(self):
        before = self.stack.pids()
        out = self.up()
        self.assertIn("(reused)", out)
        self.assertEqual(stackmod.Stack(self.root).pids(), before, "running parts left alone")

    def test_8_down(self):
        ports = self.stack.ports
        pids = self.stack.pids()
        self.assertEqual(len(pids), 3 + 3 + 3 + 2, pids)  # discovery, registrars, nodes, ...
        done = subprocess.run([os.path.join(REPO, "scripts", "down"), "--state-dir", self.root],
                              capture_output=True, text=True, timeout=300, check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        left = {name: pid for name, pid in pids.items() if galera.pid_alive(pid)}
        self.assertEqual(left, {}, "processes left behind")
        mentioning = [pid for pid in os.listdir("/proc") if pid.isdigit()
                      and galera.pid_alive(int(pid)) and self.root.encode() in cmdline(pid)]
        self.assertEqual(mentioning, [], "processes still naming the state dir")
        listening = [p for p in all_ports(ports) if not stackmod.port_free(p)]
        self.assertEqual(listening, [], "ports still bound")
        self.assertTrue(os.path.exists(os.path.join(self.root, "galera", "node1", "data")),
                        "down keeps the data")

    def test_9_up_after_down_reuses_data(self):
        out = self.up()
        self.assertIn("(reused)", out)
        self.assertIn("bootstrapping", out, "a stopped cluster is bootstrapped from its data")
        self.assertTrue(self.front_page_has("Second post after the writer died"))
        self.assertTrue(self.front_page_has("First post through sqlproxy"))
        stack = stackmod.Stack(self.root)
        pids, ports = stack.pids(), stack.ports
        done = subprocess.run([os.path.join(REPO, "scripts", "down"), "--state-dir", self.root,
                               "--purge"], capture_output=True, text=True, timeout=300,
                              check=False)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual({n: p for n, p in pids.items() if galera.pid_alive(p)}, {})
        self.assertEqual([p for p in all_ports(ports) if not stackmod.port_free(p)], [])
        self.assertFalse(os.path.exists(self.root), "--purge deletes the state dir")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def all_ports(ports):
    found = [m[k] for m in ports["discovery"] for k in ("client", "peer")]
    found += [g["mysql_port"] for g in ports["galera"]] + [g["gcomm_port"] for g in ports["galera"]]
    return found + [ports["sqlproxy"], ports["sqlproxy_admin"], ports["wordpress"]]


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--discovery-bin")
    parser.add_argument("--sqlproxy-bin")
    parser.add_argument("--artifacts", default=os.path.join(REPO, "build", "e2e"))
    parser.add_argument("--keep", action="store_true", help="keep the state dir")
    ARGS, rest = parser.parse_known_args()
    socket.setdefaulttimeout(60)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2, failfast=True)


if __name__ == "__main__":
    main()
