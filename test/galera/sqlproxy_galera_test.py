#!/usr/bin/python3
"""sqlproxy (GaleraController) in front of a real 3-node MariaDB Galera cluster.

Usage: sqlproxy_galera_test.py --proxy build/bin/sqlproxy [--keep] [unittest args]
One cluster (test/galera/cluster) is brought up once and shared by the scenarios, which run in
order (test_1_..., test_2_...): real clients through the proxy (mariadb, PHP mysqli with prepared
statements and a transaction, sysbench oltp_read_write); the writer desynced while a transaction
is open on it; the writer SIGKILLed and restarted; backends from etcd 3.4 discovery keys as PXC
registers them; two nodes killed (the survivor is non-Primary). In each scenario two writers
(one keeping its connection, one reconnecting each time) and a sampler run through the proxy;
the sampler proves no session was served by an unhealthy node and the writers' records prove
two nodes never took writes at the same time. Polls have deadlines; nothing asserts on timing.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import galera  # noqa: E402
import servers  # noqa: E402
from sqlproxy_galera import (GaleraProxy, Sampler, Writer, concurrent_writers,  # noqa: E402
                             connect, unhealthy_served)

PROXY_BIN = "build/bin/sqlproxy"
PHP_CLIENT = os.path.join(HERE, "..", "integration", "sqlproxy_client.php")
KEEP = False
DEADLINE = 60.0


def poll(predicate, what, deadline=DEADLINE):
    return servers.poll(predicate, what, deadline, interval=0.05)


def port_of(name):
    return int(name.rsplit(":", 1)[1])


class Watched:
    """Writers and sampler through one proxy for the length of a scenario."""

    def __init__(self, test, proxy):
        self.test, self.proxy = test, proxy
        self.writers = [Writer(proxy.port, "keep", True), Writer(proxy.port, "reconnect", False)]
        self.sampler = Sampler([p for p in (proxy.port, proxy.ro_port) if p])
        self.faults = []

    def __enter__(self):
        for w in self.writers:
            w.start()
        self.sampler.start()
        return self

    def __exit__(self, *exc):
        for w in self.writers:
            w.stop()
        self.sampler.stop()
        if exc[0] is not None:
            return False
        samples = self.sampler.snapshot()
        self.test.assertTrue(any(p for _, _, p, _ in samples), "the sampler never got a session")
        self.test.assertEqual(unhealthy_served(samples, self.proxy.port, self.faults), [],
                              "sessions served by an unhealthy node")
        records = [w.snapshot() for w in self.writers]
        self.test.assertEqual(concurrent_writers(records), [], "two nodes took writes at once")
        return False

    def fault(self):
        """Marks the moment a fault is injected (the proxy learns of it by its next probe)."""
        self.faults.append(time.monotonic())

    def ok_writes_since(self, t, port=None):
        return [r for w in self.writers for r in w.snapshot()
                if r[0] >= t and r[2] and (port is None or r[2] == port)]


class SqlProxyGaleraTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = galera.temporary_cluster(prefix="sqlwire-galera-")
        cls.cluster.up(attempts=2)
        cls.cluster.sql(1, "CREATE TABLE hawp.writes (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                           "client VARCHAR(16), seq BIGINT, port INT) ENGINE=InnoDB;"
                           "CREATE TABLE hawp.kv (k INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB")
        cls.ports = {n.index: n.mysql_port for n in cls.cluster.nodes}
        cls.proxy = GaleraProxy(PROXY_BIN, backends=cls.cluster.env()["backends"]).start()

    @classmethod
    def tearDownClass(cls):
        cls.proxy.stop()
        if KEEP:
            print(f"kept cluster {cls.cluster.root}, proxy log {cls.proxy.log_path}")
            return
        cls.cluster.down()
        cls.cluster.remove()
        shutil.rmtree(cls.proxy.root, ignore_errors=True)

    def index_of(self, name):
        return next(i for i, p in self.ports.items() if p == port_of(name))

    def writer_index(self):
        return self.index_of(poll(self.proxy.writer, "a writer"))

    # ----- scenarios ---------------------------------------------------------------------

    def test_1_clients(self):
        with Watched(self, self.proxy):
            port = self.proxy.port
            out = subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port}", "-uhawp",
                                  "-phawp-pw", "hawp", "-N", "-e",
                                  "SELECT @@port; SELECT COUNT(*) FROM writes"],
                                 capture_output=True, text=True, timeout=30, check=True)
            self.assertEqual(int(out.stdout.split()[0]), port_of(self.proxy.writer()))
            php = subprocess.Popen(["php", PHP_CLIENT], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)

            def call(**cmd):
                php.stdin.write(json.dumps(cmd) + "\n")
                php.stdin.flush()
                return json.loads(php.stdout.readline())

            self.assertTrue(call(op="connect", host="127.0.0.1", port=port, user="hawp",
                                 password="hawp-pw", db="hawp")["ok"])
            got = call(op="prepared", sql="INSERT INTO kv VALUES (?, ?)",
                       params=[["1", "one"], ["2", "two"]])
            self.assertTrue(got["ok"], got)
            got = call(op="prepared", sql="SELECT v FROM kv WHERE k = ?", params=[["2"]])
            self.assertEqual(got["results"], [[["two"]]], got)
            for sql in ("START TRANSACTION", "UPDATE kv SET v='uno' WHERE k=1", "COMMIT"):
                self.assertTrue(call(op="query", sql=sql)["ok"])
            self.assertEqual(call(op="query", sql="SELECT v FROM kv WHERE k=1")["rows"], [["uno"]])
            php.stdin.close()
            php.wait(timeout=30)
            php.stdout.close()
            sysbench = ["sysbench", "--db-driver=mysql", "--mysql-host=127.0.0.1",
                        f"--mysql-port={port}", "--mysql-user=hawp", "--mysql-password=hawp-pw",
                        "--mysql-db=hawp", "--tables=1", "--table-size=1000", "oltp_read_write"]
            subprocess.run(sysbench + ["prepare"], capture_output=True, check=True, timeout=120)
            run = subprocess.run(sysbench + ["--threads=4", "--time=5", "run"],
                                 capture_output=True, text=True, timeout=120, check=True)
            self.assertRegex(run.stdout, r"transactions:\s+[1-9]")
            self.assertRegex(run.stdout, r"ignored errors:\s+\d")
            subprocess.run(sysbench + ["cleanup"], capture_output=True, check=True, timeout=120)

    def test_2_desync_writer(self):
        w = self.writer_index()
        with Watched(self, self.proxy) as watched:
            txn = connect(self.proxy.port)
            txn.autocommit(False)
            with txn.cursor() as cur:
                cur.execute("INSERT INTO kv VALUES (10, 'in flight')")
            watched.fault()
            self.cluster.desync(w)
            new = poll(lambda: (self.proxy.writer() or "") not in ("", self.ports_name(w))
                       and self.proxy.writer(), "a new writer after desync")
            t = time.monotonic()
            poll(lambda: watched.ok_writes_since(t, port_of(new)), "writes on the new writer")
            with connect(self.proxy.port) as other, other.cursor() as cur:
                cur.execute("SELECT @@port")
                self.assertEqual(cur.fetchone()[0], port_of(new))
            txn.commit()  # still on the desynced node: drained, not fenced
            txn.close()
            self.cluster.resync(w)
            poll(lambda: self.state_of(w) == "writable", "the old writer writable again")
            self.assertEqual(self.proxy.writer(), new, "no failback")
        self.assertEqual(self.cluster.sql(1, "SELECT v FROM hawp.kv WHERE k=10"), [["in flight"]])

    def test_3_writer_sigkill_and_restart(self):
        w = self.writer_index()
        changes = self.proxy.status()["writer_changes"]
        with Watched(self, self.proxy) as watched:
            time.sleep(0.5)  # some writes on the old writer first (not a timing assertion)
            watched.fault()
            self.cluster.kill(w)
            new = poll(lambda: self.proxy.writer() not in ("", self.ports_name(w))
                       and self.proxy.writer(), "a new writer after SIGKILL")
            t = time.monotonic()
            poll(lambda: len(watched.ok_writes_since(t, port_of(new))) > 5,
                 "writes succeed again")
            self.cluster.start(w)
            poll(lambda: self.state_of(w) == "writable", "the restarted node usable")
            poll(lambda: self.proxy.ro_port and self.served_by_reader_port(w),
                 "the restarted node serving the read-only port")
            self.assertEqual(self.proxy.writer(), new, "writer unchanged after the restart")
        self.assertEqual(self.proxy.status()["writer_changes"], changes + 1)
        self.assertEqual(self.proxy.log().count(f"writer changes from {self.ports_name(w)}"), 1)

    def test_4_discovery_from_etcd(self):
        etcd_dir = tempfile.mkdtemp(prefix="sqlwire-etcd-")
        client, peer = galera.free_port(), galera.free_port()
        etcd = subprocess.Popen(
            ["etcd", "--data-dir", etcd_dir, "--enable-v2=true",
             "--listen-client-urls", f"http://127.0.0.1:{client}",
             "--advertise-client-urls", f"http://127.0.0.1:{client}",
             "--listen-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
             "--initial-cluster", f"default=http://127.0.0.1:{peer}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{client}/v2/keys/pxc-cluster/percona"

        def put(path, **form):
            req = urllib.request.Request(base + path, method="PUT",
                                         data=urllib.parse.urlencode(form).encode())
            try:
                urllib.request.urlopen(req, timeout=5).read()
                return True
            except OSError:
                return False

        def register(name):  # the PXC entrypoint's three PUTs
            return (put(f"/{name}/ipaddr", value=name, ttl=30)
                    and put(f"/{name}/hostname", value=f"node-{name}", ttl=30)
                    and put(f"/{name}", ttl=30, dir="true", prevExist="true"))

        proxy = None
        try:
            names = [n.address for n in self.cluster.nodes]
            poll(lambda: register(names[0]), "etcd up")
            for name in names[1:]:
                self.assertTrue(register(name))
            proxy = GaleraProxy(PROXY_BIN, discovery=f"http://127.0.0.1:{client}"
                                "/pxc-cluster/percona", read_only_port=False).start()
            with Watched(self, proxy):
                poll(lambda: len(proxy.status()["backends"]) == 3, "3 discovered backends")
                self.assertEqual(proxy.status()["backend_source"], "discovery")
                writer = proxy.writer()
                other = next(n for n in names if n != writer)
                req = urllib.request.Request(f"{base}/{other}/?recursive=true", method="DELETE")
                urllib.request.urlopen(req, timeout=5).read()  # clustercheck: not Synced
                poll(lambda: len(proxy.status()["backends"]) == 2, "a deregistered backend gone")
                self.assertEqual(proxy.writer(), writer)
        finally:
            if proxy:
                proxy.stop()
                shutil.rmtree(proxy.root, ignore_errors=True)
            etcd.terminate()
            etcd.wait(timeout=20)
            shutil.rmtree(etcd_dir, ignore_errors=True)

    def test_5_non_primary_survivor(self):
        w = self.writer_index()
        others = [i for i in self.ports if i != w and self.cluster.node(i).alive()]
        survivor = others[0]
        with Watched(self, self.proxy) as watched:
            watched.fault()
            self.cluster.kill(w)
            self.cluster.kill(others[1])
            poll(lambda: self.state_of(survivor) == "offline", "the survivor offline")
            poll(lambda: self.proxy.writer() == "", "no writer")
            with self.assertRaises(Exception) as refused:
                connect(self.proxy.port)
            self.assertIn("no writable Galera node", str(refused.exception))
            self.assertNotIn("Access denied", str(refused.exception))
            self.assertEqual(self.proxy.http("/ready")[0], 503)

    # ----- helpers -----------------------------------------------------------------------

    def ports_name(self, index):
        return f"127.0.0.1:{self.ports[index]}"

    def state_of(self, index):
        for b in self.proxy.status().get("backends", []):
            if b["name"] == self.ports_name(index):
                return b["state"]
        return None

    def served_by_reader_port(self, index):
        try:
            with connect(self.proxy.ro_port) as conn, conn.cursor() as cur:
                cur.execute("SELECT @@port")
                return cur.fetchone()[0] == self.ports[index]
        except Exception:  # noqa: BLE001
            return False


def main():
    global PROXY_BIN, KEEP
    parser = argparse.ArgumentParser()
    parser.add_argument("--proxy", default=PROXY_BIN)
    parser.add_argument("--keep", action="store_true")
    args, rest = parser.parse_known_args()
    PROXY_BIN, KEEP = os.path.abspath(args.proxy), args.keep
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
