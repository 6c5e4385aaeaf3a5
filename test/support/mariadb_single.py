"""One real MariaDB server for sqlproxy integration tests, and sqlproxy itself, as processes.

MariaDBServer initialises a fresh data directory with mariadb-install-db under
/tmp/sqlsession-*/, listens on 127.0.0.1 on a free port (no socket shared with other tests),
optionally with TLS (a self-signed certificate made with openssl), and creates the users a test
asks for, so that authentication is real and relayed. SqlProxy runs build/bin/sqlproxy against
given backends with its own free ports. Both are stopped by PID only; a zombie child counts as
stopped.
"""

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from ports import free_port

START_DEADLINE_SECONDS = 60.0
STOP_DEADLINE_SECONDS = 20.0



def _gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def stop_process(proc, sig=signal.SIGTERM, deadline_seconds=STOP_DEADLINE_SECONDS):
    """Signals one process we started and waits (bounded) until it is gone or a zombie."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None or _gone(proc.pid):
            proc.poll()
            return
        time.sleep(0.05)
    proc.kill()
    proc.wait(timeout=deadline_seconds)


_LIVE = []


@atexit.register
def _stop_leftovers():
    for p in list(_LIVE):
        p.stop()


def _log_tail(path, lines=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


class MariaDBServer:
    """One mariadbd this test started. Not thread-safe."""

    def __init__(self, tls=False, max_allowed_packet="64M"):
        self.root = tempfile.mkdtemp(prefix="sqlsession-mariadb-")
        self.data_dir = os.path.join(self.root, "data")
        self.socket_path = os.path.join(self.root, "mysqld.sock")
        self.log_path = os.path.join(self.root, "mariadbd.log")
        self.port = free_port()
        self.tls = tls
        self.max_allowed_packet = max_allowed_packet
        self.proc = None

    def _make_certificate(self):
        key = os.path.join(self.root, "server-key.pem")
        cert = os.path.join(self.root, "server-cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                       check=True, capture_output=True)
        return [f"--ssl-cert={cert}", f"--ssl-key={key}"]

    def start(self):
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=root",
                        f"--datadir={self.data_dir}", "--auth-root-authentication-method=normal",
                        "--skip-test-db"], check=True, capture_output=True)
        args = ["mariadbd", "--no-defaults", "--user=root", f"--datadir={self.data_dir}",
                f"--socket={self.socket_path}", "--bind-address=127.0.0.1", f"--port={self.port}",
                f"--log-error={self.log_path}", f"--pid-file={self.root}/mariadbd.pid",
                f"--max-allowed-packet={self.max_allowed_packet}", "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=16M", "--performance-schema=OFF", "--skip-name-resolve",
                "--local-infile=1"]
        if self.tls:
            args += self._make_certificate()
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        _LIVE.append(self)
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mariadbd exited: {_log_tail(self.log_path)}")
            if self.admin_sql("SELECT 1", check=False).returncode == 0:
                return self
            time.sleep(0.1)
        raise TimeoutError(f"mariadbd not up: {_log_tail(self.log_path)}")

    def admin_sql(self, sql, check=True):
        """Runs SQL (a script; DELIMITER works) as root over the server's own socket, not
        through the proxy."""
        return subprocess.run(["mariadb", "--no-defaults", "-uroot", f"--socket={self.socket_path}",
                               "-N", "-B"], input=sql, capture_output=True, text=True, check=check,
                              timeout=60)

    def stop(self):
        stop_process(self.proc)
        if self in _LIVE:
            _LIVE.remove(self)
        shutil.rmtree(self.root, ignore_errors=True)


class SqlProxy:
    """One build/bin/sqlproxy this test started. Not thread-safe."""

    def __init__(self, binary, backends, extra_args=(), env=None):
        self.binary = binary
        self.root = tempfile.mkdtemp(prefix="sqlsession-proxy-")
        self.log_path = os.path.join(self.root, "sqlproxy.log")
        self.port = free_port()
        self.admin_port = free_port()
        self.args = [binary, "--listen", f"127.0.0.1:{self.port}",
                     "--admin-listen", f"127.0.0.1:{self.admin_port}",
                     "--backends", ",".join(backends), "--probe-interval", "100ms",
                     "--plain-mysql"]
        self.args += list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None

    def start(self, wait_ready=True):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, env=self.env)
        log.close()
        _LIVE.append(self)
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        path = "/ready" if wait_ready else "/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sqlproxy exited {self.proc.returncode}: {self.log()}")
            if self.http("GET", path)[0] == 200:
                return self
            time.sleep(0.05)
        raise TimeoutError(f"sqlproxy not {path} in time: {self.log()}")

    def http(self, method, path):
        """(status, body) of one admin request; status 0 when it cannot connect."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.admin_port}{path}",
                                         method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def log(self, lines=40):
        return _log_tail(self.log_path, lines)

    def stop(self):
        stop_process(self.proc)
        if self in _LIVE:
            _LIVE.remove(self)
        shutil.rmtree(self.root, ignore_errors=True)
