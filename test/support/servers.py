"""Start, stop, crash and restart single-member etcd-compatible servers for integration tests.

Both the reference (etcd 3.4) and the server under test (build/bin/discovery) take etcd's flags, so
one launcher serves both. Every server listens on 127.0.0.1 only, on ports picked by binding port 0,
with its data in a fresh directory under /tmp/difftest-*/. Processes are stopped by their PID only.
"""

import json
import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from ports import free_port

DEFAULT_DISCOVERY_BIN = "build/bin/discovery"
DEFAULT_REFERENCE_BIN = "etcd"
START_DEADLINE_SECONDS = 20.0
STOP_DEADLINE_SECONDS = 10.0



def poll(predicate, what, deadline, interval=0.2, retry_on=()):
    """Calls predicate() until it returns a true value (returned); asserts at the deadline
    (seconds), naming `what` and the last value seen. An exception of a type in `retry_on` (a
    server not answering yet) counts as a false value."""
    end = time.monotonic() + deadline
    last = None
    while time.monotonic() < end:
        try:
            last = predicate()
        except retry_on as err:
            last = err
        if last and not isinstance(last, BaseException):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {deadline:.0f}s waiting for {what} (last: {last!r})")


def run_steps(cluster, steps):
    """Runs each (name, step) as step(cluster), printing PASS or FAIL with its time; stops at the
    first failure (later steps build on earlier ones) after printing every member's log tail.
    Ends with the "N passed, M failed" line; returns the exit code (0 when every step passed)."""
    passed = failed = 0
    for name, step in steps:
        started = time.monotonic()
        try:
            step(cluster)
            passed += 1
            print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
        except Exception as err:  # noqa: BLE001 - report and stop: later steps build on it
            failed += 1
            print(f"FAIL {name}: {type(err).__name__}: {err}")
            for member in cluster.members:
                print(f"--- {member.name} log:\n{member.log_tail(15)}")
            break
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 and passed == len(steps) else 1


def resolve_binary(path):
    """Returns an absolute path for `path`, searching PATH when it has no slash."""
    if os.sep in path:
        return os.path.abspath(path)
    found = shutil.which(path)
    if found is None:
        raise FileNotFoundError(f"server binary {path!r} not found on PATH")
    return found


def discovery_bin(cli_value=None):
    """The server under test: --server argument, else $DISCOVERY_BIN, else build/bin/discovery."""
    return resolve_binary(cli_value or os.environ.get("DISCOVERY_BIN", DEFAULT_DISCOVERY_BIN))


def reference_bin(cli_value=None):
    """The reference server: --reference argument, else $REFERENCE_BIN, else etcd."""
    return resolve_binary(cli_value or os.environ.get("REFERENCE_BIN", DEFAULT_REFERENCE_BIN))


def _is_zombie_or_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The state letter follows the parenthesised command name.
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


_LIVE = []


@atexit.register
def _stop_leftovers():
    """Safety net: a script that dies with an exception still stops every server it started."""
    for server in list(_LIVE):
        server.cleanup()


class Server:
    """One single-member server process that this test started; owns its data dir and log file.

    Not thread-safe: one test thread starts, stops and restarts it. The ports and data dir stay
    the same across restart(), so a restarted server recovers its own state.
    """

    def __init__(self, binary, name="m1", data_root=None, extra_args=(), initial_cluster=None):
        self.binary = binary
        self.initial_cluster = initial_cluster  # None: this member alone
        self.name = name
        self.client_port = free_port()
        self.peer_port = free_port()
        self.root = data_root or tempfile.mkdtemp(prefix="difftest-")
        self.data_dir = os.path.join(self.root, f"{name}.data")
        self.log_path = os.path.join(self.root, f"{name}.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self._owns_root = data_root is None

    @property
    def client_url(self):
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self):
        return f"http://127.0.0.1:{self.peer_port}"

    def command(self):
        return [
            self.binary,
            "--name", self.name,
            "--data-dir", self.data_dir,
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.initial_cluster or f"{self.name}={self.peer_url}",
            "--enable-v2=true",
        ] + self.extra_args

    def start(self):
        """Starts the process and waits (bounded) until GET /health answers 200."""
        self.launch()
        self.wait_healthy()
        return self

    def launch(self):
        """Starts the process without waiting for it (members of a cluster start together)."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        log.close()
        if self not in _LIVE:
            _LIVE.append(self)
        return self

    def wait_healthy(self, deadline_seconds=START_DEADLINE_SECONDS):
        deadline = time.monotonic() + deadline_seconds
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.binary} exited with {self.proc.returncode}; "
                                   f"log {self.log_path}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.client_url + "/health", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError as err:
                last_error = err
            time.sleep(0.05)
        raise TimeoutError(f"{self.binary} not healthy within {deadline_seconds}s "
                           f"({last_error}); log {self.log_path}:\n{self.log_tail()}")

    def watchers(self):
        """The server's current watcher count (/v2/stats/store "watchers")."""
        with urllib.request.urlopen(self.client_url + "/v2/stats/store", timeout=5) as resp:
            return json.loads(resp.read())["watchers"]

    def wait_watchers(self, count, deadline_seconds=START_DEADLINE_SECONDS):
        """Polls until at least `count` watchers are registered (a client's watch is in place,
        so a write made now must reach it). Returns False at the deadline."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.watchers() >= count:
                return True
            time.sleep(0.02)
        return False

    def wait_no_watchers(self, deadline_seconds=START_DEADLINE_SECONDS):
        """Polls until the watcher count is 0: a killed client's watcher is only removed once
        the server notices the closed connection. Returns False at the deadline."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.watchers() == 0:
                return True
            time.sleep(0.02)
        return False

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as log:
                return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def _signal_and_reap(self, sig, deadline_seconds):
        if self.proc is None or self.proc.poll() is not None:
            return True
        os.kill(self.proc.pid, sig)
        try:
            self.proc.wait(timeout=deadline_seconds)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self):
        """SIGTERM, then SIGKILL after a deadline; always reaps the child."""
        if not self._signal_and_reap(signal.SIGTERM, STOP_DEADLINE_SECONDS):
            self._signal_and_reap(signal.SIGKILL, STOP_DEADLINE_SECONDS)
        self._check_reaped()

    def kill9(self):
        """Crashes the server with SIGKILL (no chance to flush) and reaps it."""
        self._signal_and_reap(signal.SIGKILL, STOP_DEADLINE_SECONDS)
        self._check_reaped()

    def _check_reaped(self):
        if self.proc is not None:
            assert self.proc.poll() is not None, f"pid {self.proc.pid} still running"
            assert _is_zombie_or_gone(self.proc.pid)

    def restart(self):
        """Starts again on the same ports and data dir (after stop() or kill9())."""
        self.stop()
        return self.start()

    def cleanup(self):
        self.stop()
        if self in _LIVE:
            _LIVE.remove(self)
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False


class Cluster:
    """A cluster of `size` members of one binary (discovery or etcd), started together with
    --initial-cluster naming all of them, on free 127.0.0.1 ports, data dirs under one temp dir.

    Not thread-safe, like Server. members[i] is a Server; restart one with members[i].restart().
    """

    def __init__(self, binary, size=3, token="etcd-cluster"):
        self.root = tempfile.mkdtemp(prefix="cluster-")
        self.members = [Server(binary, name=f"m{i + 1}", data_root=self.root,
                               extra_args=["--initial-cluster-token", token,
                                           "--initial-cluster-state", "new",
                                           "--heartbeat-interval", "100",
                                           "--election-timeout", "1000"])
                        for i in range(size)]
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        for member in self.members:
            member.initial_cluster = initial

    def start(self):
        for member in self.members:
            member.launch()
        for member in self.members:
            member.wait_healthy()
        return self

    def leader_id(self, via, deadline_seconds=START_DEADLINE_SECONDS):
        """The leader's id as member `via` reports it (/v2/members/leader), polled until one is
        elected. Returns None at the deadline."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(via.client_url + "/v2/members/leader",
                                            timeout=2) as resp:
                    return json.loads(resp.read())["id"]
            except OSError:
                time.sleep(0.05)
        return None

    def member_ids(self):
        """{name: id} from /v2/members of the first running member."""
        for member in self.members:
            if member.proc is not None and member.proc.poll() is None:
                with urllib.request.urlopen(member.client_url + "/v2/members", timeout=5) as resp:
                    return {m["name"]: m["id"] for m in json.loads(resp.read())["members"]}
        raise RuntimeError("no member running")

    def leader(self):
        """The leading member (a Server) and the followers, as the running members agree."""
        running = [m for m in self.members if m.proc is not None and m.proc.poll() is None]
        lead = self.leader_id(running[0])
        ids = self.member_ids()
        leader = next(m for m in running if ids.get(m.name) == lead)
        return leader, [m for m in running if m is not leader]

    def cleanup(self):
        for member in self.members:
            member.cleanup()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()
        return False
