"""A 3-node MariaDB 10.11 + Galera 4 cluster on 127.0.0.1, for tests and benchmarks.

Everything lives in one state directory: per node a data dir, a my.cnf, a socket, a log, a pid
file; `state.json` holds ports and PIDs so that another process (a test, a benchmark, the
`test/galera/cluster` command) can drive the same cluster. Ports are picked by binding port 0.
Processes are signalled by the PIDs recorded here only; nothing else is ever stopped.

Facts this relies on (see the project's galera-on-loopback notes):
- four ports per node: MySQL, gcomm, IST, SST;
- rsync SST run by a root mariadbd fails because the rsync daemon drops to `nobody`, so a custom
  SST method `hawp_rsync` runs the stock rsync script with an `rsync` that sets uid/gid root;
- after SIGKILL a node starts with the position from `--wsrep-recover`, so it gets IST, not SST.

Not thread-safe: one caller at a time drives a given state directory.
"""

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

from ports import free_port

MARIADBD = "/usr/sbin/mariadbd"
MARIADB = "/usr/bin/mariadb"
INSTALL_DB = "/usr/bin/mariadb-install-db"
PROVIDER = "/usr/lib/galera/libgalera_smm.so"
NODE_COUNT = 3
CLUSTER_NAME = "hawp"
MONITOR_USER = "monitor"
MONITOR_PASSWORD = "monitor-pw"
TEST_USER = "hawp"
TEST_PASSWORD = "hawp-pw"
TEST_DATABASE = "hawp"
UP_DEADLINE_SECONDS = 120.0
STOP_DEADLINE_SECONDS = 60.0

# Galera's default failure-detection timeouts suit failover tests. Benchmarks on a loaded 2-CPU
# machine saw false partitions with them, so `--long-timeouts` trades detection speed for calm.
LONG_TIMEOUTS = ("evs.suspect_timeout=PT30S;evs.inactive_timeout=PT1M;evs.install_timeout=PT1M;"
                 "gmcast.peer_timeout=PT10S;evs.keepalive_period=PT1S")

STATUS_STATE_SYNCED = "4"


class ClusterError(RuntimeError):
    pass



def pid_alive(pid):
    """True when `pid` runs and is not a zombie (PID 1 here may leave zombies unreaped)."""
    if not pid:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False


def default_state_dir():
    return os.environ.get("GALERA_STATE_DIR", f"/tmp/galera-cluster-{os.getuid()}")


class Node:
    """One mariadbd of the cluster: its ports, paths and (when running) PID."""

    def __init__(self, root, index, ports=None):
        self.index = index
        self.dir = os.path.join(root, f"node{index}")
        ports = ports or {}
        self.mysql_port = ports.get("mysql_port") or free_port()
        self.gcomm_port = ports.get("gcomm_port") or free_port()
        self.ist_port = ports.get("ist_port") or free_port()
        self.sst_port = ports.get("sst_port") or free_port()
        self.pid = ports.get("pid")

    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def socket(self):
        return os.path.join(self.dir, "mysqld.sock")

    @property
    def cnf(self):
        return os.path.join(self.dir, "my.cnf")

    @property
    def log(self):
        return os.path.join(self.dir, "mariadbd.log")

    @property
    def address(self):
        return f"127.0.0.1:{self.mysql_port}"

    def to_json(self):
        return {
            "index": self.index, "mysql_port": self.mysql_port, "gcomm_port": self.gcomm_port,
            "ist_port": self.ist_port, "sst_port": self.sst_port, "pid": self.pid,
            "socket": self.socket, "datadir": self.datadir, "log": self.log, "cnf": self.cnf,
            "address": self.address,
        }

    def alive(self):
        """True when the recorded PID still runs this node's mariadbd (a stale state file must
        never make us signal an unrelated process that reused the PID)."""
        if not pid_alive(self.pid):
            return False
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                return f"--defaults-file={self.cnf}".encode() in f.read().split(b"\0")
        except OSError:
            return False

    def log_tail(self, lines=40):
        try:
            with open(self.log, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


class Cluster:
    """The cluster in one state directory. Create with Cluster(dir); `up()` builds and starts it,
    `load()` (done by the constructor when state.json exists) reattaches to a running one."""

    def __init__(self, state_dir=None, long_timeouts=False):
        self.root = os.path.abspath(state_dir or default_state_dir())
        self.long_timeouts = long_timeouts
        self.nodes = []
        if os.path.exists(self.state_path):
            self.load()

    # ----- state ---------------------------------------------------------------------------

    @property
    def state_path(self):
        return os.path.join(self.root, "state.json")

    def load(self):
        with open(self.state_path) as f:
            state = json.load(f)
        self.long_timeouts = state.get("long_timeouts", False)
        self.nodes = [Node(self.root, n["index"], n) for n in state["nodes"]]

    def save(self):
        state = self.env()
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, self.state_path)
        with open(os.path.join(self.root, "env.sh"), "w") as f:
            f.write(self.shell_env())

    def env(self):
        """What tests and benchmarks need: ports, sockets, PIDs, users, paths."""
        return {
            "state_dir": self.root,
            "cluster_name": CLUSTER_NAME,
            "long_timeouts": self.long_timeouts,
            "backends": ",".join(n.address for n in self.nodes),
            "monitor_user": MONITOR_USER,
            "monitor_password": MONITOR_PASSWORD,
            "monitor_password_file": os.path.join(self.root, "monitor.password"),
            "test_user": TEST_USER,
            "test_password": TEST_PASSWORD,
            "test_database": TEST_DATABASE,
            "nodes": [n.to_json() for n in self.nodes],
        }

    def shell_env(self):
        e = self.env()
        lines = [f"GALERA_STATE_DIR={e['state_dir']}", f"GALERA_BACKENDS={e['backends']}",
                 f"GALERA_MONITOR_USER={MONITOR_USER}",
                 f"GALERA_MONITOR_PASSWORD={MONITOR_PASSWORD}",
                 f"GALERA_MONITOR_PASSWORD_FILE={e['monitor_password_file']}",
                 f"GALERA_TEST_USER={TEST_USER}", f"GALERA_TEST_PASSWORD={TEST_PASSWORD}",
                 f"GALERA_TEST_DATABASE={TEST_DATABASE}"]
        for n in self.nodes:
            for key in ("mysql_port", "gcomm_port", "ist_port", "sst_port", "pid", "socket"):
                lines.append(f"GALERA_NODE{n.index}_{key.upper()}={n.to_json()[key] or ''}")
        return "\n".join(lines) + "\n"

    def node(self, index):
        for n in self.nodes:
            if n.index == index:
                return n
        raise ClusterError(f"no node {index} (nodes are 1..{len(self.nodes)})")

    # ----- configuration -------------------------------------------------------------------

    def _write_sst_method(self):
        """The `hawp_rsync` SST method: the stock rsync script, with an `rsync` first on PATH
        whose daemon runs as root so that it can write a root-owned data directory."""
        bin_dir = os.path.join(self.root, "bin")
        rsync_dir = os.path.join(self.root, "rsync-bin")
        os.makedirs(bin_dir, exist_ok=True)
        os.makedirs(rsync_dir, exist_ok=True)
        scripts = {
            os.path.join(bin_dir, "wsrep_sst_hawp_rsync"):
                f'#!/bin/sh\nexport PATH="{rsync_dir}:$PATH"\nexec /usr/bin/wsrep_sst_rsync "$@"\n',
            os.path.join(rsync_dir, "rsync"): (
                "#!/bin/sh\n"
                "# Daemon mode as root: make the config keep uid root (default: nobody).\n"
                'prev=""\n'
                'for arg in "$@"; do\n'
                '  if [ "$prev" = "--config" ]; then conf="$arg"; fi\n'
                '  case "$arg" in --config=*) conf="${arg#--config=}" ;; esac\n'
                '  prev="$arg"\n'
                "done\n"
                'if [ "$(id -u)" = 0 ] && [ -n "$conf" ] && [ -f "$conf" ] &&'
                ' ! grep -q "^uid = " "$conf"; then\n'
                '  { printf "uid = root\\ngid = root\\n"; cat "$conf"; } > "$conf.new" &&'
                ' mv "$conf.new" "$conf"\n'
                "fi\n"
                'exec /usr/bin/rsync "$@"\n'),
        }
        for path, text in scripts.items():
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return bin_dir

    def _write_cnf(self, node):
        gcomm = ",".join(f"127.0.0.1:{n.gcomm_port}" for n in self.nodes)
        provider_options = [f"gmcast.listen_addr=tcp://127.0.0.1:{node.gcomm_port}",
                            f"ist.recv_addr=127.0.0.1:{node.ist_port}",
                            "gcache.size=64M", "gcs.fc_limit=64"]
        if self.long_timeouts:
            provider_options.append(LONG_TIMEOUTS)
        text = f"""[mysqld]
datadir={node.datadir}
socket={node.socket}
port={node.mysql_port}
bind-address=127.0.0.1
pid-file={node.dir}/mariadbd.pid
log-error={node.log}
skip-name-resolve
performance_schema=OFF
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
innodb_flush_log_at_trx_commit=2
innodb_autoinc_lock_mode=2
binlog_format=ROW
default_storage_engine=InnoDB
max_connections=500
wsrep_on=ON
wsrep_provider={PROVIDER}
wsrep_cluster_name={CLUSTER_NAME}
wsrep_cluster_address=gcomm://{gcomm}
wsrep_node_name=node{node.index}
wsrep_node_address=127.0.0.1
wsrep_node_incoming_address=127.0.0.1:{node.mysql_port}
wsrep_sst_receive_address=127.0.0.1:{node.sst_port}
wsrep_sst_method=hawp_rsync
wsrep_provider_options="{';'.join(provider_options)}"
"""
        with open(node.cnf, "w") as f:
            f.write(text)

    # ----- processes -----------------------------------------------------------------------

    def _mariadbd_command(self, node, *extra):
        cmd = [MARIADBD, f"--defaults-file={node.cnf}"]
        if os.getuid() == 0:
            cmd.append("--user=root")
        return cmd + list(extra)

    def _spawn(self, node, *extra):
        env = dict(os.environ)
        env["PATH"] = os.path.join(self.root, "bin") + ":" + env.get("PATH", "/usr/bin:/bin")
        with open(node.log, "ab") as log:
            proc = subprocess.Popen(self._mariadbd_command(node, *extra), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, env=env,
                                    start_new_session=True)
        node.pid = proc.pid
        # The Popen object is dropped on purpose: the server outlives this process; it is stopped
        # later by its recorded PID. Python would otherwise warn that the child still runs.
        proc.returncode = 0
        self.save()

    def _recovered_position(self, node):
        """Runs `mariadbd --wsrep-recover` and returns `uuid:seqno`, or None (fresh or unclean
        data dir without a position, which then takes SST)."""
        recover_log = os.path.join(node.dir, "recover.log")
        cmd = self._mariadbd_command(node, "--wsrep-recover", f"--log-error={recover_log}")
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=STOP_DEADLINE_SECONDS, check=False)
        try:
            with open(recover_log) as f:
                text = f.read()
        except OSError:
            return None
        found = re.findall(r"Recovered position: ([0-9a-f-]{36}:-?\d+)", text)
        if not found or found[-1].endswith(":-1"):
            return None
        return found[-1]

    def _signal(self, node, sig):
        if node.alive():
            os.kill(node.pid, sig)

    def _wait_dead(self, node, deadline_seconds=STOP_DEADLINE_SECONDS):
        deadline = time.monotonic() + deadline_seconds
        while node.alive():
            if time.monotonic() > deadline:
                raise ClusterError(f"node {node.index} (pid {node.pid}) did not stop")
            time.sleep(0.05)
            try:  # Reap it if it is our child (it is not when another process started it).
                os.waitpid(node.pid, os.WNOHANG)
            except ChildProcessError:
                pass

    # ----- SQL -----------------------------------------------------------------------------

    def sql(self, index, query, user="root", password="", timeout=20.0):
        """Runs `query` on node `index` over its socket; returns rows as lists of strings."""
        node = self.node(index)
        cmd = [MARIADB, "--no-defaults", f"--socket={node.socket}", f"--user={user}",
               "--batch", "--skip-column-names", "--connect-timeout=5", "-e", query]
        if password:
            cmd.insert(4, f"--password={password}")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise ClusterError(f"node {index}: {query!r}: {done.stderr.strip()}")
        return [line.split("\t") for line in done.stdout.splitlines()]

    def status(self, index, timeout=5.0):
        """wsrep status and a few variables of node `index` as a dict; {} when unreachable."""
        try:
            rows = self.sql(index, "SHOW GLOBAL STATUS WHERE Variable_name IN ("
                            "'wsrep_local_state','wsrep_local_state_comment',"
                            "'wsrep_cluster_status','wsrep_cluster_size','wsrep_ready',"
                            "'wsrep_connected','wsrep_cluster_state_uuid','wsrep_local_index',"
                            "'wsrep_cluster_conf_id','wsrep_local_recv_queue');"
                            "SHOW GLOBAL VARIABLES WHERE Variable_name IN ("
                            "'wsrep_desync','read_only','wsrep_reject_queries')",
                            timeout=timeout)
        except (ClusterError, subprocess.TimeoutExpired):
            return {}
        return {row[0].lower(): row[1] for row in rows if len(row) == 2}

    def synced(self, index, size=None):
        s = self.status(index)
        if s.get("wsrep_local_state") != STATUS_STATE_SYNCED:
            return False
        if s.get("wsrep_cluster_status") != "Primary" or s.get("wsrep_ready") != "ON":
            return False
        return size is None or s.get("wsrep_cluster_size") == str(size)

    def wait_for(self, predicate, what, deadline_seconds=UP_DEADLINE_SECONDS, nodes=()):
        deadline = time.monotonic() + deadline_seconds
        while not predicate():
            for node in nodes:
                if not node.alive():
                    raise ClusterError(f"node {node.index} exited while waiting for {what}; "
                                       f"log {node.log}:\n{node.log_tail()}")
            if time.monotonic() > deadline:
                raise ClusterError(f"timed out after {deadline_seconds}s waiting for {what}")
            time.sleep(0.1)

    def wait_synced(self, indexes=None, size=None, deadline_seconds=UP_DEADLINE_SECONDS):
        indexes = indexes or [n.index for n in self.nodes if n.alive()]
        size = size or len([n for n in self.nodes if n.alive()])
        try:
            self.wait_for(lambda: all(self.synced(i, size) for i in indexes),
                          f"nodes {indexes} Synced in a Primary component of size {size}",
                          deadline_seconds, [self.node(i) for i in indexes])
        except ClusterError as err:
            details = [f"node {i}: {self.status(i)}\n{self.node(i).log_tail(8)}" for i in indexes]
            raise ClusterError(f"{err}\n" + "\n".join(details)) from None

    # ----- commands ------------------------------------------------------------------------

    def up(self, ports=None, attempts=1):
        """Creates a fresh cluster (removing a stopped one in the same state dir), starts node 1
        with --wsrep-new-cluster, creates the users, starts the other nodes, and waits until all
        three are Synced in one Primary component of size 3. `ports`: one dict per node with
        mysql_port, gcomm_port, ist_port and sst_port (default: free ports). `attempts`: fresh
        bring-ups to try; under heavy CPU load (a CI run) an SST donor can get stuck, and the
        next bring-up usually goes through."""
        for attempt in range(1, attempts + 1):
            try:
                self._up_once(ports)
                return
            except ClusterError as err:
                if attempt == attempts:
                    raise
                print(f"cluster up failed, trying again: {str(err)[:300]}", file=sys.stderr)
                self.down()

    def _up_once(self, ports):
        if any(n.alive() for n in self.nodes):
            raise ClusterError(f"a cluster is already running in {self.root}; run `down` first")
        if os.path.exists(self.root):
            shutil.rmtree(self.root)
        os.makedirs(self.root)
        self.nodes = [Node(self.root, i, ports[i - 1] if ports else None)
                      for i in range(1, NODE_COUNT + 1)]
        self._write_sst_method()
        with open(os.path.join(self.root, "monitor.password"), "w") as f:
            f.write(MONITOR_PASSWORD + "\n")
        for node in self.nodes:
            os.makedirs(node.datadir)
            self._write_cnf(node)
        self._install_db(self.nodes[0])
        self._spawn(self.nodes[0], "--wsrep-new-cluster")
        self.wait_synced([1], 1)
        self._create_users()
        for node in self.nodes[1:]:
            self._spawn(node)
        self.wait_synced([n.index for n in self.nodes], NODE_COUNT)
        self.save()

    def _install_db(self, node):
        cmd = [INSTALL_DB, "--no-defaults", f"--datadir={node.datadir}",
               "--auth-root-authentication-method=normal", "--skip-test-db",
               "--innodb-log-file-size=32M", "--innodb-buffer-pool-size=64M"]
        if os.getuid() == 0:
            cmd.append("--user=root")
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ClusterError(f"mariadb-install-db failed:\n{done.stdout}\n{done.stderr}")

    def _create_users(self):
        # The monitor needs no privilege for SHOW GLOBAL STATUS/VARIABLES. The test user gets
        # DML and DDL on its own database only, so read_only=ON applies to it (a global GRANT ALL
        # would include READ_ONLY ADMIN and write through read_only).
        self.sql(1, f"CREATE USER '{MONITOR_USER}'@'%' IDENTIFIED BY '{MONITOR_PASSWORD}';"
                    f"CREATE USER '{TEST_USER}'@'%' IDENTIFIED BY '{TEST_PASSWORD}';"
                    f"CREATE DATABASE {TEST_DATABASE};"
                    f"GRANT ALL ON {TEST_DATABASE}.* TO '{TEST_USER}'@'%';")

    def down(self):
        """Stops every node this state dir started (SIGTERM, then SIGKILL at a deadline)."""
        for node in self.nodes:
            self._signal(node, signal.SIGTERM)
        for node in self.nodes:
            try:
                self._wait_dead(node, STOP_DEADLINE_SECONDS)
            except ClusterError:
                self._signal(node, signal.SIGKILL)
                self._wait_dead(node)
            node.pid = None
        if self.nodes:
            self.save()

    def remove(self):
        """Deletes the state directory; only after down() (refuses while a node runs)."""
        if any(n.alive() for n in self.nodes):
            raise ClusterError(f"nodes still run in {self.root}")
        shutil.rmtree(self.root, ignore_errors=True)

    def kill(self, index, sig=signal.SIGKILL):
        node = self.node(index)
        if not node.alive():
            raise ClusterError(f"node {index} is not running")
        self._signal(node, sig)
        if sig in (signal.SIGKILL, signal.SIGTERM):
            self._wait_dead(node)
            node.pid = None
            self.save()

    def start(self, index, wait=True, donor=None):
        """Starts a stopped or killed node. It rejoins the running nodes (IST from its recovered
        position; from node `donor` when given); when no other node runs it bootstraps a new
        Primary component."""
        node = self.node(index)
        if node.alive():
            raise ClusterError(f"node {index} is already running (pid {node.pid})")
        others = [n for n in self.nodes if n is not node and n.alive()]
        extra = []
        position = self._recovered_position(node)
        if position:
            extra.append(f"--wsrep_start_position={position}")
        if donor is not None:
            extra.append(f"--wsrep_sst_donor=node{donor}")
        if not others:
            self._mark_safe_to_bootstrap(node)
            extra.append("--wsrep-new-cluster")
        else:
            # A node restarted while the others still count its killed incarnation waits in
            # gcomm until they evict it (evs.suspect_timeout); waiting for the eviction first
            # makes the join itself quick. A non-Primary survivor never shrinks its view.
            size = str(len(others))
            self.wait_for(lambda: all(self.status(n.index).get("wsrep_cluster_size") == size
                                      or self.status(n.index).get("wsrep_cluster_status")
                                      != "Primary" for n in others),
                          f"nodes {[n.index for n in others]} to evict node {index}",
                          nodes=others)
        self._spawn(node, *extra)
        if wait:
            self.wait_for(lambda: self.synced(index), f"node {index} Synced", nodes=[node])

    def bootstrap_candidate(self):
        """The node to bootstrap a fully stopped cluster from, as Galera's manual has it: the one
        marked safe to bootstrap (the last to leave, shut down cleanly), else the one whose
        recovered position is the highest. After a crash every grastate.dat says seqno -1, so
        the positions come from `mariadbd --wsrep-recover`; bootstrapping from a node that is
        behind would throw away what the others committed after it left."""
        if any(n.alive() for n in self.nodes):
            raise ClusterError("bootstrap_candidate: a node still runs")
        for node in self.nodes:
            if re.search(r"^safe_to_bootstrap:\s*1\s*$", self.grastate(node), re.M):
                return node.index

        def seqno(node):
            position = self._recovered_position(node)
            return int(position.rsplit(":", 1)[1]) if position else -1
        return max(self.nodes, key=seqno).index

    def grastate(self, node):
        """The text of the node's grastate.dat ("" when there is none)."""
        try:
            with open(os.path.join(node.datadir, "grastate.dat")) as f:
                return f.read()
        except OSError:
            return ""

    def _mark_safe_to_bootstrap(self, node):
        text = self.grastate(node)
        if text:
            with open(os.path.join(node.datadir, "grastate.dat"), "w") as f:
                f.write(re.sub(r"safe_to_bootstrap:\s*0", "safe_to_bootstrap: 1", text))

    def bootstrap(self, index):
        """Makes a surviving non-Primary node form a Primary component on its own (after the
        others died): the operator's `pc.bootstrap=YES`."""
        self.sql(index, "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'")
        self.wait_for(lambda: self.synced(index), f"node {index} Primary and Synced",
                      nodes=[self.node(index)])

    def desync(self, index):
        self.sql(index, "SET GLOBAL wsrep_desync=ON")

    def resync(self, index):
        self.sql(index, "SET GLOBAL wsrep_desync=OFF")

    def set_global(self, index, name, value):
        self.sql(index, f"SET GLOBAL {name}={value}")


def temporary_cluster(prefix="galera-test-", long_timeouts=False):
    """A Cluster in a fresh /tmp/<prefix>*/ directory (not yet started)."""
    return Cluster(tempfile.mkdtemp(prefix=prefix), long_timeouts=long_timeouts)
