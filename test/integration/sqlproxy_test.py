#!/usr/bin/python3
"""sqlproxy against a real MariaDB 10.11 on 127.0.0.1, with real clients.

Usage: sqlproxy_test.py [--proxy build/bin/sqlproxy] [unittest args]
Starts one mariadbd (fresh data dir, TLS with a self-signed certificate, max_allowed_packet 64M,
real users: authentication is relayed, never skipped) and sqlproxy with --backends pointing at it.
Proves through the proxy: the `mariadb` client, PHP mysqli (prepared statements, multi-statements,
a 20 MiB row, a transaction, COM_CHANGE_USER), LOCAL INFILE, TLS, compression, the server's own
access-denied error, the proxy's ERR when no backend is reachable, and fence/drain behaviour.
Every relayed exchange must have been followed without a protocol error (metrics).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import servers  # noqa: E402
from mariadb_single import MariaDBServer, SqlProxy, free_port  # noqa: E402

PROXY_BIN = "build/bin/sqlproxy"
PHP_CLIENT = os.path.join(HERE, "sqlproxy_client.php")
STEP_TIMEOUT_SECONDS = 60
POLL_DEADLINE_SECONDS = 20
USER, PASSWORD = "app", "app-secret"
OTHER_USER, OTHER_PASSWORD = "other", "other-secret"


def poll(predicate, what, deadline_seconds=POLL_DEADLINE_SECONDS):
    return servers.poll(predicate, what, deadline_seconds, interval=0.05)


class PhpClient:
    """One long-lived PHP mysqli process: one MySQL session we can drive step by step."""

    def __init__(self):
        self.proc = subprocess.Popen(["php", PHP_CLIENT], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"php client died on {cmd['op']}")
        return json.loads(line)

    def connect(self, port, user=USER, password=PASSWORD, db="t"):
        return self.call(op="connect", host="127.0.0.1", port=port, user=user, password=password,
                         db=db)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=STEP_TIMEOUT_SECONDS)
        self.proc.stdout.close()


class SqlProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = MariaDBServer(tls=True).start()
        cls.db.admin_sql(
            f"CREATE USER {USER}@'%' IDENTIFIED BY '{PASSWORD}';"
            f"CREATE USER {OTHER_USER}@'%' IDENTIFIED BY '{OTHER_PASSWORD}';"
            "CREATE USER monitor@'%' IDENTIFIED BY 'mon-secret-7';"
            f"CREATE DATABASE t; GRANT ALL ON t.* TO {USER}@'%'; GRANT ALL ON t.* TO {OTHER_USER}@'%';"
            "CREATE TABLE t.kv (k INT PRIMARY KEY, v VARCHAR(100)) ENGINE=InnoDB;"
            "CREATE TABLE t.big (id INT PRIMARY KEY, body LONGTEXT) ENGINE=InnoDB;"
            "\nDELIMITER //\n"
            "CREATE PROCEDURE t.two_sets() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END//\n")
        cls.tls = cls.db.admin_sql("SELECT @@have_ssl").stdout.strip() == "YES"
        cls.backend = f"127.0.0.1:{cls.db.port}"
        # Probes log in, so the server sees clean sessions (test_monitor_login_probe_and_secrets).
        cls.proxy = SqlProxy(PROXY_BIN, [cls.backend], extra_args=["--monitor-user", "monitor"],
                             env={"SQLPROXY_MONITOR_PASSWORD": "mon-secret-7"}).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        cls.db.stop()

    def tearDown(self):
        # Every test leaves the backend admitted, whatever it did.
        self.proxy.http("POST", f"/readmit?backend={self.backend}")

    def mariadb(self, *args, password=PASSWORD, user=USER, port=None):
        return subprocess.run(
            ["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port or self.proxy.port}",
             f"-u{user}", f"-p{password}", "-N", "-B", *args],
            capture_output=True, text=True, timeout=STEP_TIMEOUT_SECONDS)

    def metric(self, name_and_labels):
        body = self.proxy.http("GET", "/metrics")[1]
        for line in body.splitlines():
            if line.startswith(name_and_labels + " "):
                return float(line.split()[-1])
        raise AssertionError(f"metric {name_and_labels} missing")

    def sessions(self):
        return json.loads(self.proxy.http("GET", "/status")[1])["sessions"]

    # --- clients -------------------------------------------------------------------------

    def test_mariadb_client_reaches_the_backend(self):
        r = self.mariadb("-e", "SELECT @@port, CURRENT_USER()")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), [str(self.db.port), f"{USER}@%"])

    def test_wrong_password_gets_the_servers_access_denied(self):
        r = self.mariadb("-e", "SELECT 1", password="wrong")
        self.assertEqual(r.returncode, 1)
        self.assertIn("ERROR 1045 (28000): Access denied for user 'app'", r.stderr)

    def test_multi_statements_and_multi_results(self):
        r = self.mariadb("t", "-e", "SELECT 1; SELECT 'two'; CALL two_sets(); SELECT 4")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["1", "two", "1", "2", "3", "4"])

    def test_local_infile(self):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", dir="/tmp", prefix="sqlsession-",
                                         delete=False) as f:
            f.write("".join(f"{1000 + i},row{i}\n" for i in range(500)))
        try:
            r = self.mariadb("--local-infile=1", "t", "-e",
                             f"LOAD DATA LOCAL INFILE '{f.name}' INTO TABLE kv "
                             "FIELDS TERMINATED BY ','; SELECT COUNT(*) FROM kv WHERE k >= 1000")
        finally:
            os.unlink(f.name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.split(), ["500"])

    def test_tls_relayed(self):
        if not self.tls:
            self.skipTest("server has no TLS")
        r = self.mariadb("--ssl", "-e", "SHOW STATUS LIKE 'Ssl_cipher'")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"Ssl_cipher\t\S+")

    def test_compression_relayed(self):
        r = self.mariadb("--compress", "-e", "SHOW STATUS LIKE 'Compression'; SELECT REPEAT('z', 100000)")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("Compression\tON", r.stdout)
        self.assertIn("z" * 100000, r.stdout)

    def test_php_prepared_multi_transaction_change_user(self):
        php = PhpClient()
        try:
            self.assertTrue(php.connect(self.proxy.port)["ok"])
            r = php.call(op="prepared", sql="INSERT INTO kv VALUES (?, ?)",
                         params=[["1", "one"], ["2", "two"], ["3", "three"]])
            self.assertTrue(r["ok"], r)
            r = php.call(op="prepared", sql="SELECT v FROM kv WHERE k = ? OR k = ? ORDER BY k",
                         params=[["1", "3"], ["2", "2"]])
            self.assertEqual(r["results"], [[["one"], ["three"]], [["two"]]])
            r = php.call(op="multi", sql="SELECT 1; SELECT k FROM kv WHERE k < 3 ORDER BY k; "
                                         "UPDATE kv SET v = 'uno' WHERE k = 1; SELECT v FROM kv WHERE k = 1")
            self.assertEqual(r["sets"], [[["1"]], [["1"], ["2"]], [], [["uno"]]])
            self.assertTrue(php.call(op="query", sql="BEGIN")["ok"])
            php.call(op="query", sql="INSERT INTO kv VALUES (10, 'in-txn')")
            self.assertEqual(self.db.admin_sql("SELECT COUNT(*) FROM t.kv WHERE k = 10").stdout.strip(), "0")
            self.assertTrue(php.call(op="query", sql="COMMIT")["ok"])
            self.assertEqual(self.db.admin_sql("SELECT v FROM t.kv WHERE k = 10").stdout.strip(), "in-txn")
            r = php.call(op="change_user", user=OTHER_USER, password=OTHER_PASSWORD, db="t")
            self.assertTrue(r["ok"], r)
            r = php.call(op="query", sql="SELECT CURRENT_USER()")
            self.assertEqual(r["rows"], [[f"{OTHER_USER}@%"]])
            r = php.call(op="change_user", user=OTHER_USER, password="wrong", db="t")
            self.assertFalse(r["ok"])
            self.assertEqual(r["errno"], 1045)
        finally:
            php.close()

    def test_php_20_mib_row(self):
        php = PhpClient()
        try:
            self.assertTrue(php.connect(self.proxy.port)["ok"])
            size = 20 * 1024 * 1024
            r = php.call(op="big_row", id=1, bytes=size)
            self.assertTrue(r["ok"], r)
            self.assertEqual(r["rows"][0][:2], [str(size), "y"])
            self.assertTrue(r["read_back_equal"])
        finally:
            php.close()

    def test_no_backend_gets_the_proxys_err(self):
        dead = f"127.0.0.1:{free_port()}"
        proxy = SqlProxy(PROXY_BIN, [dead]).start(wait_ready=False)
        try:
            poll(lambda: json.loads(proxy.http("GET", "/status")[1])["backends"][0]["probes"] > 0,
                 "a first probe")
            self.assertEqual(proxy.http("GET", "/ready")[0], 503)
            r = self.mariadb("-e", "SELECT 1", port=proxy.port)
            self.assertEqual(r.returncode, 1)
            # The client may add a note that the error came before TLS; the code and text are ours.
            self.assertRegex(r.stderr, r"1040\b.*sqlproxy: no writable Galera node: "
                                       r"no backend reachable \(127\.0\.0\.1:\d+: connect: Connection refused\)")
            self.assertNotIn("Access denied", r.stderr)
            php = PhpClient()
            try:
                r = php.connect(proxy.port)
                self.assertFalse(r["ok"])
                self.assertEqual(r["errno"], 1040)
                self.assertIn("no writable Galera node", r["error"])
            finally:
                php.close()
        finally:
            proxy.stop()

    def test_monitor_login_probe_and_secrets(self):
        aborted = lambda: int(self.db.admin_sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects'")
                              .stdout.split()[1])
        good = SqlProxy(PROXY_BIN, [self.backend], extra_args=["--monitor-user", "monitor"],
                        env={"SQLPROXY_MONITOR_PASSWORD": "mon-secret-7"})
        bad = SqlProxy(PROXY_BIN, [self.backend], extra_args=["--monitor-user", "monitor"],
                       env={"SQLPROXY_MONITOR_PASSWORD": "wrong-secret-9"})
        try:
            before = aborted()
            good.start()
            poll(lambda: json.loads(good.http("GET", "/status")[1])["backends"][0]["probes"] >= 5,
                 "five probes")
            status = json.loads(good.http("GET", "/status")[1])
            self.assertEqual(status["backends"][0]["reason"], "monitor login ok")
            # Logged-in probes end with COM_QUIT: the server counts no aborted connection.
            self.assertEqual(aborted(), before)
            self.assertEqual(self.mariadb("-e", "SELECT 1", port=good.port).returncode, 0)
            bad.start(wait_ready=False)
            poll(lambda: json.loads(bad.http("GET", "/status")[1])["backends"][0]["probes"] >= 2,
                 "two probes")
            self.assertEqual(bad.http("GET", "/ready")[0], 503)
            status = json.loads(bad.http("GET", "/status")[1])
            self.assertIn("monitor login refused: 1045", status["backends"][0]["reason"])
            for proxy in (good, bad):
                self.assertNotIn("secret", proxy.log(lines=10000))
                self.assertNotIn("secret", proxy.http("GET", "/status")[1])
                self.assertNotIn("secret", proxy.http("GET", "/metrics")[1])
        finally:
            good.stop()
            bad.stop()

    # --- fence and drain ----------------------------------------------------------------

    def open_sessions(self, count):
        clients = [PhpClient() for _ in range(count)]
        for c in clients:
            self.assertTrue(c.connect(self.proxy.port)["ok"])
        poll(lambda: self.sessions() >= count, f"{count} sessions")
        return clients

    def assert_closed(self, client):
        r = client.call(op="query", sql="SELECT 1")
        self.assertFalse(r["ok"], r)
        self.assertIn(r["errno"], (2006, 2013), r)

    def test_drain_closes_idle_now_and_transactions_after_commit(self):
        idle, busy = self.open_sessions(2)
        try:
            self.assertTrue(busy.call(op="query", sql="BEGIN")["ok"])
            busy.call(op="query", sql="INSERT INTO kv VALUES (20, 'drain')")
            status, body = self.proxy.http("POST", f"/drain?backend={self.backend}&grace=60s")
            self.assertEqual(status, 200, body)
            poll(lambda: self.sessions() == 1, "the idle session to close")
            self.assert_closed(idle)
            # The transaction goes on and commits; then its session closes too.
            r = busy.call(op="query", sql="INSERT INTO kv VALUES (21, 'drain')")
            self.assertTrue(r["ok"], r)
            self.assertTrue(busy.call(op="query", sql="COMMIT")["ok"])
            poll(lambda: self.sessions() == 0, "the committed session to close")
            self.assert_closed(busy)
            self.assertEqual(self.db.admin_sql("SELECT COUNT(*) FROM t.kv WHERE k IN (20, 21)")
                             .stdout.strip(), "2")
        finally:
            idle.close()
            busy.close()

    def test_drain_grace_closes_an_open_transaction(self):
        (busy,) = self.open_sessions(1)
        try:
            busy.call(op="query", sql="BEGIN")
            busy.call(op="query", sql="INSERT INTO kv VALUES (30, 'rolled back')")
            self.proxy.http("POST", f"/drain?backend={self.backend}&grace=300ms")
            poll(lambda: self.sessions() == 0, "the grace period to end the session")
            self.assert_closed(busy)
            poll(lambda: self.db.admin_sql("SELECT COUNT(*) FROM t.kv WHERE k = 30")
                 .stdout.strip() == "0", "the server to roll back")
            self.assertGreaterEqual(self.metric('sqlproxy_sessions_closed_total{reason="drain_grace"}'), 1)
        finally:
            busy.close()

    def test_fence_closes_everything_and_refuses_until_readmitted(self):
        idle, busy = self.open_sessions(2)
        try:
            busy.call(op="query", sql="BEGIN")
            status, body = self.proxy.http("POST", f"/fence?backend={self.backend}")
            self.assertEqual(status, 200, body)
            poll(lambda: self.sessions() == 0, "fenced sessions to close")
            self.assert_closed(idle)
            self.assert_closed(busy)
            r = self.mariadb("-e", "SELECT 1")
            self.assertEqual(r.returncode, 1)
            self.assertIn("was just fenced", r.stderr)
            self.proxy.http("POST", f"/readmit?backend={self.backend}")
            self.assertEqual(self.mariadb("-e", "SELECT 1").returncode, 0)
        finally:
            idle.close()
            busy.close()

    def test_zz_no_protocol_errors_and_metrics(self):
        # Runs last (alphabetical order): everything above was followed without a protocol error.
        self.assertEqual(self.metric('sqlproxy_malformed_packets_total{from="client"}'), 0)
        self.assertEqual(self.metric('sqlproxy_malformed_packets_total{from="backend"}'), 0)
        self.assertGreater(self.metric('sqlproxy_bytes_total{direction="backend_to_client"}'), 0)
        status = json.loads(self.proxy.http("GET", "/status")[1])
        self.assertEqual(status["writer"], self.backend)
        self.assertEqual(self.proxy.http("GET", "/health")[0], 200)


def main():
    global PROXY_BIN
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", default=os.environ.get("SQLPROXY_BIN", PROXY_BIN))
    args, rest = parser.parse_known_args()
    PROXY_BIN = os.path.abspath(args.proxy)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
