"""sqlproxy in front of test/galera/cluster, and the clients that watch it: shared by
test/galera/sqlproxy_galera_test.py and bench/sqlproxy-failover.

- GaleraProxy: one build/bin/sqlproxy (GaleraController) on free 127.0.0.1 ports.
- Writer: a thread writing one row every `period` seconds, either on one connection it keeps
  (reconnecting only after an error) or on a new connection each time; every attempt is
  recorded as (start, end, port or None, error or None).
- Sampler: a thread that, several times a second, opens a session through the proxy and reads
  @@hostname, @@port and the node's wsrep state on it, recording what served each session.
Analysis helpers turn the records into failure windows and safety violations.
"""

import json
import os
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import pymysql

import galera

START_DEADLINE_SECONDS = 30.0


class GaleraProxy:
    """A sqlproxy this process started; stop() ends it by PID."""

    def __init__(self, binary, backends=None, discovery=None, extra_args=(), probe="250ms",
                 drain_grace="5s", monitor=("monitor", "monitor-pw"), read_only_port=True):
        self.root = tempfile.mkdtemp(prefix="sqlwire-proxy-")
        self.log_path = os.path.join(self.root, "sqlproxy.log")
        self.port = galera.free_port()
        self.ro_port = galera.free_port() if read_only_port else None
        self.admin_port = galera.free_port()
        password_file = os.path.join(self.root, "monitor.password")
        with open(password_file, "w") as f:
            f.write(monitor[1] + "\n")
        self.args = [binary, "--listen", f"127.0.0.1:{self.port}",
                     "--admin-listen", f"127.0.0.1:{self.admin_port}",
                     "--probe-interval", probe, "--drain-grace", drain_grace,
                     "--monitor-user", monitor[0], "--monitor-password-file", password_file]
        if self.ro_port:
            self.args += ["--read-only-listen", f"127.0.0.1:{self.ro_port}"]
        if backends:
            self.args += ["--backends", backends]
        if discovery:
            self.args += ["--backends-discovery", discovery]
        self.args += list(extra_args)
        self.proc = None

    def start(self, wait_ready=True):
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        path = "/ready" if wait_ready else "/health"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sqlproxy exited {self.proc.returncode}: {self.log()}")
            if self.http(path)[0] == 200:
                return self
            time.sleep(0.05)
        raise TimeoutError(f"sqlproxy not {path} in time: {self.log()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def http(self, path):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}{path}",
                                        timeout=5) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def status(self):
        code, body = self.http("/status")
        return json.loads(body) if code == 200 else {}

    def writer(self):
        return self.status().get("writer") or ""


def connect(port, user="hawp", password="hawp-pw", db="hawp", timeout=5):
    return pymysql.connect(host="127.0.0.1", port=port, user=user, password=password,
                           database=db, connect_timeout=timeout, read_timeout=timeout,
                           write_timeout=timeout, autocommit=True)


class Writer(threading.Thread):
    """Writes one row every `period` s through `port`; records every attempt."""

    def __init__(self, port, name, keep_connection, period=0.01, timeout=5, table="writes"):
        super().__init__(daemon=True)
        self.port, self.name, self.keep = port, name, keep_connection
        self.period, self.timeout, self.table = period, timeout, table
        self.records = []  # (start, end, port or None, error or None)
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        conn = None
        seq = 0
        while not self.stopping.is_set():
            start = time.monotonic()
            port, error = None, None
            try:
                if conn is None:
                    conn = connect(self.port, timeout=self.timeout)
                with conn.cursor() as cur:
                    seq += 1
                    cur.execute(f"INSERT INTO {self.table} (client, seq, port) "
                                "VALUES (%s, %s, @@port)", (self.name, seq))
                    cur.execute("SELECT @@port")
                    port = int(cur.fetchone()[0])
            except Exception as err:  # noqa: BLE001 - every failure is a record
                error = f"{type(err).__name__}: {err}"
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:  # noqa: BLE001
                        pass
                conn = None
            end = time.monotonic()
            if not self.keep and conn is not None:
                conn.close()
                conn = None
            with self.lock:
                self.records.append((start, end, port, error))
            rest = self.period - (time.monotonic() - start)
            if rest > 0:
                self.stopping.wait(rest)
        if conn is not None:
            conn.close()

    def snapshot(self):
        with self.lock:
            return list(self.records)

    def stop(self):
        self.stopping.set()
        self.join(timeout=self.timeout + 5)


SAMPLE_SQL = ("SELECT @@hostname, @@port, "
              "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
              " WHERE VARIABLE_NAME='WSREP_LOCAL_STATE'), "
              "(SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS "
              " WHERE VARIABLE_NAME='WSREP_CLUSTER_STATUS'), "
              "@@wsrep_desync, @@read_only, @@wsrep_reject_queries")


class Sampler(threading.Thread):
    """New sessions through `ports` (writer port and read-only port) several times a second;
    records what node served each and its wsrep state as seen on that session."""

    def __init__(self, ports, period=0.15):
        super().__init__(daemon=True)
        self.ports, self.period = ports, period
        self.samples = []  # (time, listener port, served port or None, state dict or error)
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        while not self.stopping.is_set():
            for listen in self.ports:
                t = time.monotonic()
                try:
                    conn = connect(listen, timeout=3)
                    with conn.cursor() as cur:
                        cur.execute(SAMPLE_SQL)
                        host, port, state, cluster, desync, ro, reject = cur.fetchone()
                    conn.close()
                    entry = (t, listen, int(port), {
                        "host": host, "state": state, "cluster": cluster,
                        "desync": int(desync), "read_only": int(ro), "reject": reject})
                except Exception as err:  # noqa: BLE001
                    entry = (t, listen, None, f"{type(err).__name__}: {err}")
                with self.lock:
                    self.samples.append(entry)
            self.stopping.wait(self.period)

    def snapshot(self):
        with self.lock:
            return list(self.samples)

    def stop(self):
        self.stopping.set()
        self.join(timeout=15)


# A proxy learns of a fault by its next probe: sessions opened within this long after a fault
# was injected are not counted (250 ms probes, plus probe latency on a loaded 2-CPU machine).
DETECTION_GRACE_SECONDS = 1.0


def unhealthy_served(samples, writer_port, faults=()):
    """Sessions served by a node that was not healthy for its role at that moment (as the
    session itself saw it): not Synced/Primary, desynced, rejecting queries, or read_only on the
    writer port. A state-transfer donor (state 2 with wsrep_desync OFF, e.g. serving IST from
    gcache to a restarted node) counts as healthy: the proxy keeps it for a short donor grace.
    The proxy learns of a change at its next probe, so sessions within DETECTION_GRACE_SECONDS
    after a fault in `faults`, or after the moment a node was first seen unhealthy (a change
    Galera makes later on its own, such as a survivor turning non-Primary once its peers are
    evicted), are not counted; a node still serving sessions after that grace is."""
    bad = []
    episode_start = {}  # port -> time of the first sample of its current unhealthy run
    for t, listen, port, s in sorted(samples, key=lambda sample: sample[0]):
        if port is None:
            continue
        donor = s["state"] == "2" and s["desync"] == 0
        node_unhealthy = ((s["state"] != "4" and not donor) or s["cluster"] != "Primary"
                          or s["desync"] != 0 or s["reject"] != "NONE")
        if node_unhealthy:
            episode_start.setdefault(port, t)
        else:
            episode_start.pop(port, None)
        unhealthy = node_unhealthy or (listen == writer_port and s["read_only"] != 0)
        if not unhealthy or any(f <= t < f + DETECTION_GRACE_SECONDS for f in faults):
            continue
        if node_unhealthy and t < episode_start[port] + DETECTION_GRACE_SECONDS:
            continue
        bad.append((t, listen, port, s))
    return bad


def concurrent_writers(records_by_client):
    """Moments when two nodes took writes: a successful write on node X that started after
    some write on another node Y had completed, while an earlier write on X had completed
    after that Y write started (X wrote on both sides of Y's write: the writers interleaved)."""
    writes = sorted((s, e, p) for recs in records_by_client for (s, e, p, err) in recs if p)
    violations = []
    last_end = {}  # port -> end of its latest write so far (by start order)
    for s, e, p in writes:
        for other, other_end in last_end.items():
            if other != p and other_end > s:
                violations.append((s, e, p, other, other_end))
        last_end[p] = max(e, last_end.get(p, 0))
    return violations


def failure_window(records, after, stall=0.1):
    """The longest run of consecutive failed or stalled (> `stall` s) writes that starts at or
    after `after`: from the start of its first write to the end of its last (seconds; 0 when
    no write failed or stalled). A busy 2-CPU machine stalls single writes now and then; they
    form short runs of their own and do not merge into the fault's window."""
    longest, run_start, run_end = 0.0, None, None
    for s, e, p, err in sorted(records):
        if s < after - 0.05:
            continue
        if err is not None or e - s > stall:
            run_start = s if run_start is None else run_start
            run_end = e
            longest = max(longest, run_end - run_start)
        else:
            run_start = None
    return longest


def failed_writes(records, after):
    return sum(1 for s, e, p, err in records if s >= after - 0.05 and err is not None)
