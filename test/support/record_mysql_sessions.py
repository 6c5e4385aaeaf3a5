#!/usr/bin/python3
"""Records real MySQL sessions for sqlproxy's replay tests and fuzz seeds.

Usage: record_mysql_sessions.py OUT_DIR
Starts a MariaDB server (mariadb_single.py), puts a byte-recording TCP relay in front of it, runs
real clients through the relay (the `mariadb` client and PHP mysqli) and writes one file per
session: a sequence of chunks, each a direction byte ('C' client->server, 'S' server->client),
a 4-byte little-endian length and the bytes, in the order the relay forwarded them. Regenerate and
review the diff when the clients or the server change.
"""

import os
import socket
import struct
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from mariadb_single import MariaDBServer  # noqa: E402

PHP_CLIENT = os.path.join(HERE, "..", "integration", "sqlproxy_client.php")


class RecordingRelay:
    """Accepts one connection, relays it to the server and records the chunks in order."""

    def __init__(self, server_port):
        self.server_port = server_port
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.port = self.listener.getsockname()[1]
        self.chunks = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _pump(self, src, dst, tag):
        while True:
            data = src.recv(65536)
            if not data:
                break
            with self.lock:
                # Recorded before forwarding: the other side cannot answer what it has not got.
                self.chunks.append((tag, data))
                dst.sendall(data)
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _run(self):
        client, _ = self.listener.accept()
        server = socket.create_connection(("127.0.0.1", self.server_port))
        a = threading.Thread(target=self._pump, args=(client, server, b"C"))
        b = threading.Thread(target=self._pump, args=(server, client, b"S"))
        a.start()
        b.start()
        a.join()
        b.join()
        client.close()
        server.close()

    def save(self, path):
        self.thread.join(timeout=60)
        with open(path, "wb") as f:
            for tag, data in self.chunks:
                f.write(tag + struct.pack("<I", len(data)) + data)


def record(db, out_dir, name, run_client):
    relay = RecordingRelay(db.port)
    run_client(relay.port)
    relay.save(os.path.join(out_dir, name + ".rec"))
    print(f"{name}: {len(relay.chunks)} chunks")


def mariadb_cli(sql, *extra):
    def run(port):
        subprocess.run(["mariadb", "--no-defaults", "-h127.0.0.1", f"-P{port}", "-uapp",
                        "-papp-secret", "--skip-ssl", *extra, "t", "-e", sql],
                       check=False, capture_output=True, timeout=60)
    return run


def php(commands):
    def run(port):
        import json
        lines = [json.dumps(dict(c, port=port) if c["op"] == "connect" else c) for c in commands]
        out = subprocess.run(["php", PHP_CLIENT], input="\n".join(lines) + "\n",
                             capture_output=True, text=True, check=True, timeout=60).stdout
        for line in out.splitlines():
            assert json.loads(line)["ok"], line
    return run


def main():
    out_dir = sys.argv[1]
    db = MariaDBServer().start()
    try:
        db.admin_sql("CREATE USER app@'%' IDENTIFIED BY 'app-secret';"
                     "CREATE USER other@'%' IDENTIFIED BY 'other-secret';"
                     "CREATE DATABASE t; GRANT ALL ON t.* TO app@'%'; GRANT ALL ON t.* TO other@'%';"
                     "CREATE TABLE t.kv (k INT PRIMARY KEY, v VARCHAR(100));"
                     "\nDELIMITER //\n"
                     "CREATE PROCEDURE t.two_sets() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END//\n")
        csv = "/tmp/sqlsession-record.csv"
        with open(csv, "w") as f:
            f.write("".join(f"{100 + i},r{i}\n" for i in range(50)))
        record(db, out_dir, "cli_multi_results", mariadb_cli(
            "BEGIN; INSERT INTO kv VALUES (1, 'a'); SELECT * FROM kv; COMMIT; "
            "SELECT 1; SELECT 'x', NULL; CALL two_sets(); DO 1; SELECT nosuchcolumn"))
        record(db, out_dir, "cli_local_infile", mariadb_cli(
            f"LOAD DATA LOCAL INFILE '{csv}' INTO TABLE kv FIELDS TERMINATED BY ','; "
            "SELECT COUNT(*) FROM kv", "--local-infile=1"))
        record(db, out_dir, "php_prepared_change_user", php([
            {"op": "connect", "host": "127.0.0.1", "user": "app", "password": "app-secret", "db": "t"},
            {"op": "prepared", "sql": "INSERT INTO kv VALUES (?, ?)", "params": [["7", "seven"], ["8", "eight"]]},
            {"op": "prepared", "sql": "SELECT k, v FROM kv WHERE k > ?", "params": [["6"], ["7"]]},
            {"op": "query", "sql": "BEGIN"},
            {"op": "query", "sql": "UPDATE kv SET v = 'x' WHERE k = 7"},
            {"op": "multi", "sql": "SELECT 1; CALL two_sets(); COMMIT"},
            {"op": "change_user", "user": "other", "password": "other-secret", "db": "t"},
            {"op": "query", "sql": "SELECT CURRENT_USER()"},
            {"op": "close"},
        ]))
        os.unlink(csv)
    finally:
        db.stop()


if __name__ == "__main__":
    main()
