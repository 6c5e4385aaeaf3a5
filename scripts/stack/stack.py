#!/usr/bin/python3
"""The local stack on 127.0.0.1: three discovery members, a 3-node MariaDB Galera cluster whose
nodes register themselves in discovery as Percona XtraDB Cluster containers do, sqlproxy finding
its backends from those registrations, and Debian's WordPress served by `php -S` through sqlproxy.

Usage: stack.py up|down|status [--state-dir DIR] [--ports default|free] [--purge] ...
`scripts/up` and `scripts/down` install packages and build first, then call this.

Everything lives in one state directory (default `<repo>/.stack`, or $HAWP_STACK_DIR):
`stack.json` (ports, secrets, PIDs with their command lines), `discovery/mN/` (data),
`galera/` (test/support/galera.py's cluster state), `wordpress/` (wp-config.php, wp-content),
`logs/`. Every process is started in its own session so it outlives `up`, and is signalled only
by its recorded PID, after checking that this PID still runs the recorded command line.

`up` is idempotent: a part that runs is left alone, a stopped part is started again on its data.
Not thread-safe: one command at a time per state directory.
"""

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "test", "support"))
import galera  # noqa: E402

CLUSTER_NAME = "hawp"  # CLUSTER_NAME of the PXC entrypoint; galera.CLUSTER_NAME is the same
WORDPRESS_ROOT = "/usr/share/wordpress"
WORDPRESS_THEMES = "/usr/share/wordpress/wp-content/themes"
WORDPRESS_PLUGINS = "/usr/share/wordpress/wp-content/plugins"
# Debian's wp-config.php loads /etc/wordpress/config-$WORDPRESS_CONFIG.php; ours forwards to the
# stack's own wp-config (HAWP_WP_CONFIG), so stacks in different state dirs stay apart.
DEBIAN_CONFIG = "/etc/wordpress/config-hawp-stack.php"
DEBIAN_CONFIG_TEXT = ("<?php\n// The local stack (scripts/up): its php -S router selects this file"
                      " with WORDPRESS_CONFIG;\n// the settings are in the stack's own"
                      " wp-config.php, named by HAWP_WP_CONFIG.\n"
                      "require getenv('HAWP_WP_CONFIG');\n")
WP_DATABASE = "wordpress"
WP_USER = "wordpress"
PHP_WORKERS = 4
DEADLINE_SECONDS = 120.0
STOP_DEADLINE_SECONDS = 15.0

# Ports a user gets (etcd's three-member convention, ProxySQL's admin and client ports, Galera's
# default gcomm/IST/SST ports spaced by 10 per node). `--ports free` picks free ports instead.
DEFAULT_PORTS = {
    "discovery": [{"client": 2379, "peer": 2380}, {"client": 22379, "peer": 22380},
                  {"client": 32379, "peer": 32380}],
    "galera": [{"mysql_port": 3307 + i, "gcomm_port": 4567 + 10 * i, "ist_port": 4568 + 10 * i,
                "sst_port": 4444 + 10 * i} for i in range(3)],
    "sqlproxy": 6033,
    "sqlproxy_admin": 6032,
    "wordpress": 8080,
}


class StackError(RuntimeError):
    pass


def progress(step, total, text):
    print(f"[{step}/{total}] {text}", flush=True)


def http_get(url, timeout=3.0):
    """(status, body text); (0, "") when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")
    except OSError:
        return 0, ""


def wait_for(predicate, what, deadline_seconds=DEADLINE_SECONDS, procs=()):
    deadline = time.monotonic() + deadline_seconds
    while not predicate():
        for proc in procs:
            if not proc.alive():
                raise StackError(f"{proc.name} exited while waiting for {what}; "
                                 f"log {proc.log}:\n{proc.log_tail()}")
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {deadline_seconds:.0f}s waiting for {what}")
        time.sleep(0.1)


def port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_ports():
    ports = json.loads(json.dumps(DEFAULT_PORTS))
    for member in ports["discovery"]:
        member["client"], member["peer"] = galera.free_port(), galera.free_port()
    for node in ports["galera"]:
        for key in node:
            node[key] = galera.free_port()
    for key in ("sqlproxy", "sqlproxy_admin", "wordpress"):
        ports[key] = galera.free_port()
    return ports


class Proc:
    """One long-running process of the stack: its command line, log and recorded PID."""

    def __init__(self, name, argv, log, env=None, pid=None):
        self.name, self.argv, self.log, self.env, self.pid = name, argv, log, env or {}, pid

    def to_json(self):
        return {"argv": self.argv, "log": self.log, "env": self.env, "pid": self.pid}

    def alive(self):
        """True when the recorded PID runs this command line (never a reused PID) and is no
        zombie."""
        if not galera.pid_alive(self.pid):
            return False
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                return f.read().split(b"\0")[:-1] == [a.encode() for a in self.argv]
        except OSError:
            return False

    def start(self):
        env = dict(os.environ)
        env.update(self.env)
        with open(self.log, "ab") as log:
            proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pid = proc.pid
        proc.returncode = 0  # It outlives this process and is stopped later by its PID.

    def group(self):
        """PIDs of the process group this process leads (it was started in its own session,
        so the group id is the recorded PID) that still run its command line: the process and
        any workers it forked, even when the leader itself is gone."""
        if not self.pid:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")[:-1]
            except OSError:
                continue
            if (fields[0] not in ("Z", "X") and int(fields[2]) == self.pid
                    and argv == [a.encode() for a in self.argv]):
                found.append(int(entry))
        return found

    def stop(self, deadline_seconds=STOP_DEADLINE_SECONDS):
        """SIGTERM to the process and its workers, then SIGKILL at the deadline; returns once
        they are gone."""
        sent = {}  # pid -> the last signal sent to it
        deadline = time.monotonic() + deadline_seconds
        while pids := self.group():
            sig = signal.SIGKILL if time.monotonic() > deadline else signal.SIGTERM
            for pid in pids:
                if sent.get(pid) != sig:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                    sent[pid] = sig
            time.sleep(0.05)
            for pid in pids:  # Reap our own children (they are when this process started them).
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
        self.pid = None

    def log_tail(self, lines=30):
        try:
            with open(self.log, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


class Stack:
    """The stack in one state directory."""

    def __init__(self, state_dir, discovery_bin=None, sqlproxy_bin=None):
        self.root = os.path.abspath(state_dir)
        self.discovery_bin = discovery_bin or os.path.join(REPO, "build", "bin", "discovery")
        self.sqlproxy_bin = sqlproxy_bin or os.path.join(REPO, "build", "bin", "sqlproxy")
        self.state = {}
        if os.path.exists(self.state_path):
            with open(self.state_path) as f:
                self.state = json.load(f)
        self.galera = galera.Cluster(os.path.join(self.root, "galera"))

    # ----- state ---------------------------------------------------------------------------

    @property
    def state_path(self):
        return os.path.join(self.root, "stack.json")

    @property
    def ports(self):
        return self.state["ports"]

    def save(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f, indent=2)
        os.replace(tmp, self.state_path)

    def init_state(self, ports_mode):
        """First `up` in this directory: ports and secrets, kept for every later `up`."""
        if self.state:
            return False
        os.makedirs(os.path.join(self.root, "logs"), exist_ok=True)
        os.chmod(self.root, 0o700)  # wp-config and stack.json hold passwords
        ports = free_ports() if ports_mode == "free" else json.loads(json.dumps(DEFAULT_PORTS))
        if ports_mode != "free":
            check_default_ports(ports)
        self.state = {
            "ports": ports,
            "wordpress_db_password": secrets.token_urlsafe(18),
            "wordpress_salts": [secrets.token_urlsafe(48) for _ in range(8)],
            "procs": {},
        }
        self.save()
        return True

    def proc(self, name):
        record = self.state.get("procs", {}).get(name)
        return Proc(name, record["argv"], record["log"], record.get("env"),
                    record.get("pid")) if record else None

    def run_proc(self, proc):
        """Starts `proc` unless its recorded twin runs; returns (Proc, started?)."""
        old = self.proc(proc.name)
        if old and old.alive():
            return old, False
        if old:
            old.stop()  # workers a dead leader left behind would hold its port
        proc.start()
        self.state.setdefault("procs", {})[proc.name] = proc.to_json()
        self.save()
        return proc, True

    def log_path(self, name):
        return os.path.join(self.root, "logs", f"{name}.log")

    # ----- discovery -----------------------------------------------------------------------

    def discovery_url(self, i=0):
        return f"http://127.0.0.1:{self.ports['discovery'][i]['client']}"

    def discovery_endpoints(self):
        return ",".join(f"127.0.0.1:{m['client']}" for m in self.ports["discovery"])

    def discovery_proc(self, i):
        members = self.ports["discovery"]
        name = f"d{i + 1}"
        initial = ",".join(f"d{j + 1}=http://127.0.0.1:{m['peer']}" for j, m in enumerate(members))
        client = self.discovery_url(i)
        peer = f"http://127.0.0.1:{members[i]['peer']}"
        argv = [self.discovery_bin, "--name", name,
                "--data-dir", os.path.join(self.root, "discovery", name),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", initial, "--initial-cluster-token", "hawp-stack",
                "--initial-cluster-state", "new"]
        return Proc(f"discovery-{name}", argv, self.log_path(f"discovery-{name}"))

    def up_discovery(self):
        os.makedirs(os.path.join(self.root, "discovery"), exist_ok=True)
        procs, started = [], 0
        for i in range(len(self.ports["discovery"])):
            proc, fresh = self.run_proc(self.discovery_proc(i))
            procs.append(proc)
            started += fresh
        for i, proc in enumerate(procs):
            wait_for(lambda i=i: http_get(self.discovery_url(i) + "/health")[0] == 200,
                     f"{proc.name} /health", procs=[proc])
        # A quorum read goes through the leader: answered once the members elected one.
        wait_for(lambda: http_get(self.discovery_url(0) + "/v2/keys/?quorum=true")[0] == 200,
                 "a discovery leader", procs=procs)
        return started

    def registrations(self):
        code, body = http_get(self.discovery_url(0) + f"/v2/keys/pxc-cluster/{CLUSTER_NAME}/")
        if code != 200:
            return []
        nodes = json.loads(body).get("node", {}).get("nodes", [])
        return sorted(n["key"].rsplit("/", 1)[-1] for n in nodes)

    # ----- galera and the registrars -------------------------------------------------------

    def registrar_proc(self, i):
        port = self.ports["galera"][i]["mysql_port"]
        argv = ["/usr/bin/python3", os.path.join(HERE, "pxc_registrar.py"),
                "--discovery", self.discovery_endpoints(), "--cluster", CLUSTER_NAME,
                "--ipaddr", f"127.0.0.1:{port}", "--hostname", f"node{i + 1}",
                "--port", str(port), "--user", galera.MONITOR_USER,
                "--password-file", self.monitor_password_file]
        return Proc(f"registrar-node{i + 1}", argv, self.log_path(f"registrar-node{i + 1}"))

    @property
    def monitor_password_file(self):
        """The monitor user's password (galera.py creates the user), outside galera/, which a
        fresh galera.up() recreates."""
        path = os.path.join(self.root, "monitor.password")
        if not os.path.exists(path):
            with open(path, "w") as f:
                f.write(galera.MONITOR_PASSWORD + "\n")
        return path

    def up_registrars(self):
        return sum(self.run_proc(self.registrar_proc(i))[1]
                   for i in range(len(self.ports["galera"])))

    def up_galera(self):
        """Returns a description of what it did."""
        cluster = self.galera
        if not cluster.nodes:
            cluster.up(ports=self.ports["galera"])
            return "bootstrapped a new cluster"
        stopped = [n.index for n in cluster.nodes if not n.alive()]
        if not stopped:
            return "already running"
        what = f"started node(s) {', '.join(map(str, stopped))} on their data"
        if len(stopped) == len(cluster.nodes):
            first = cluster.bootstrap_candidate()
            cluster.start(first)  # alone: bootstraps a Primary component from its data
            stopped.remove(first)
            what += f", node {first} bootstrapping"
        for index in stopped:
            cluster.start(index)
        cluster.wait_synced()
        return what

    def create_wordpress_database(self):
        """The WordPress database and user, made once on a Synced node (Galera replicates them
        to the others); idempotent."""
        password = self.state["wordpress_db_password"]
        node = next(n.index for n in self.galera.nodes if self.galera.synced(n.index))
        self.galera.sql(node, f"CREATE DATABASE IF NOT EXISTS {WP_DATABASE};"
                              f"CREATE USER IF NOT EXISTS '{WP_USER}'@'%' "
                              f"IDENTIFIED BY '{password}';"
                              f"GRANT ALL ON {WP_DATABASE}.* TO '{WP_USER}'@'%';")

    # ----- sqlproxy ------------------------------------------------------------------------

    def sqlproxy_admin_url(self):
        return f"http://127.0.0.1:{self.ports['sqlproxy_admin']}"

    def sqlproxy_proc(self):
        argv = [self.sqlproxy_bin, "--listen", f"127.0.0.1:{self.ports['sqlproxy']}",
                "--admin-listen", f"127.0.0.1:{self.ports['sqlproxy_admin']}",
                # Every member: sqlproxy moves to the next when the one it watches fails.
                "--backends-discovery",
                ",".join(self.discovery_url(i) for i in range(len(self.ports["discovery"])))
                + f"/pxc-cluster/{CLUSTER_NAME}",
                "--monitor-user", galera.MONITOR_USER,
                "--monitor-password-file", self.monitor_password_file]
        return Proc("sqlproxy", argv, self.log_path("sqlproxy"))

    def up_sqlproxy(self):
        proc, started = self.run_proc(self.sqlproxy_proc())
        wait_for(lambda: http_get(self.sqlproxy_admin_url() + "/ready")[0] == 200,
                 "sqlproxy /ready (a writer)", procs=[proc])
        return started

    def sqlproxy_status(self):
        code, body = http_get(self.sqlproxy_admin_url() + "/status")
        return json.loads(body) if code == 200 else {}

    # ----- wordpress -----------------------------------------------------------------------

    def wordpress_url(self):
        return f"http://127.0.0.1:{self.ports['wordpress']}"

    def write_wordpress_files(self):
        wp = os.path.join(self.root, "wordpress")
        content = os.path.join(wp, "wp-content")
        for sub in ("themes", "plugins", "uploads", "languages"):
            os.makedirs(os.path.join(content, sub), exist_ok=True)
        for source, sub in ((WORDPRESS_THEMES, "themes"), (WORDPRESS_PLUGINS, "plugins")):
            for entry in os.listdir(source):
                link = os.path.join(content, sub, entry)
                if not os.path.lexists(link):
                    os.symlink(os.path.join(source, entry), link)
        salts = self.state["wordpress_salts"]
        names = ["AUTH_KEY", "SECURE_AUTH_KEY", "LOGGED_IN_KEY", "NONCE_KEY", "AUTH_SALT",
                 "SECURE_AUTH_SALT", "LOGGED_IN_SALT", "NONCE_SALT"]
        lines = ["<?php", "// The local stack's WordPress settings, written by scripts/up.",
                 f"define('DB_NAME', '{WP_DATABASE}');", f"define('DB_USER', '{WP_USER}');",
                 f"define('DB_PASSWORD', '{self.state['wordpress_db_password']}');",
                 f"define('DB_HOST', '127.0.0.1:{self.ports['sqlproxy']}');",
                 "define('DB_CHARSET', 'utf8mb4');",
                 f"define('WP_CONTENT_DIR', '{content}');",
                 # Nothing leaves the machine: no update checks, news feeds or pings.
                 "define('WP_HTTP_BLOCK_EXTERNAL', true);",
                 "define('AUTOMATIC_UPDATER_DISABLED', true);",
                 # wp-cron would run inside page views; the stack has no cron jobs to run.
                 "define('DISABLE_WP_CRON', true);"]
        lines += [f"define('{n}', '{s}');" for n, s in zip(names, salts)]
        config = os.path.join(wp, "wp-config.php")
        with open(config, "w") as f:
            f.write("\n".join(lines) + "\n")
        return config, content

    def wordpress_proc(self):
        config, content = self.write_wordpress_files()
        argv = ["/usr/bin/php", "-S", f"127.0.0.1:{self.ports['wordpress']}",
                "-t", WORDPRESS_ROOT, os.path.join(HERE, "router.php")]
        env = {"HAWP_WP_CONFIG": config, "HAWP_WP_CONTENT_DIR": content,
               "PHP_CLI_SERVER_WORKERS": str(PHP_WORKERS)}
        return Proc("wordpress", argv, self.log_path("wordpress"), env)

    def up_wordpress(self):
        ensure_debian_config()
        proc, started = self.run_proc(self.wordpress_proc())
        # Before installation WordPress redirects every page to wp-admin/install.php.
        wait_for(lambda: http_get(self.wordpress_url() + "/wp-login.php", 10)[0] in (200, 302),
                 "WordPress answering", procs=[proc])
        return started

    # ----- commands ------------------------------------------------------------------------

    def up(self, ports_mode="default", first_step=1, total=None):
        total = total or first_step + 4
        step = first_step
        fresh = self.init_state(ports_mode)
        timer = time.monotonic()

        def done(text):
            nonlocal step, timer
            progress(step, total, f"{text} ({time.monotonic() - timer:.1f}s)")
            step, timer = step + 1, time.monotonic()

        print(f"state: {self.root}" + (" (new)" if fresh else " (reused)"), flush=True)
        n = self.up_discovery()
        done(f"discovery: 3 members, {n} started, leader elected")
        n = self.up_registrars()
        what = self.up_galera()
        self.create_wordpress_database()
        done(f"galera: 3 MariaDB nodes Synced ({what}); {n} registrar(s) started")
        expected = sorted(f"127.0.0.1:{g['mysql_port']}" for g in self.ports["galera"])
        wait_for(lambda: self.registrations() == expected,
                 f"the 3 nodes registered under /pxc-cluster/{CLUSTER_NAME}/")
        done(f"registrations: {', '.join(expected)} under /pxc-cluster/{CLUSTER_NAME}/")
        started = self.up_sqlproxy()
        done(f"sqlproxy: {'started' if started else 'already running'}, writer "
             f"{self.sqlproxy_status().get('writer')}")
        started = self.up_wordpress()
        done(f"wordpress: {'started' if started else 'already running'}")
        self.print_summary()

    def down(self, purge=False):
        for name in ["wordpress", "sqlproxy"] + [f"registrar-node{i}" for i in (1, 2, 3)]:
            proc = self.proc(name)
            if proc:
                proc.stop()
                self.state["procs"][name] = proc.to_json()
        if self.galera.nodes:
            self.galera.down()
        for i in (1, 2, 3):
            proc = self.proc(f"discovery-d{i}")
            if proc:
                proc.stop()
                self.state["procs"][proc.name] = proc.to_json()
        if self.state:
            self.save()
        if purge:
            shutil.rmtree(self.root, ignore_errors=True)

    def pids(self):
        """Every PID the stack recorded that still runs its command (for tests and status)."""
        running = {}
        for name in self.state.get("procs", {}):
            proc = self.proc(name)
            if proc.alive():
                running[name] = proc.pid
        for node in self.galera.nodes:
            if node.alive():
                running[f"galera-node{node.index}"] = node.pid
        return running

    def print_summary(self):
        p = self.ports
        d1 = self.discovery_url(0)
        admin = self.sqlproxy_admin_url()
        pw = self.state["wordpress_db_password"]
        print(f"""
The stack runs (state and logs in {self.root}):
  WordPress     {self.wordpress_url()}/   ({self.wordpress_hint()})
  sqlproxy      mariadb -h 127.0.0.1 -P {p['sqlproxy']} -u {WP_USER} -p'{pw}' {WP_DATABASE}
  admin         {admin}/ (status page), curl {admin}/status   (also /metrics, /ready)
  discovery     {', '.join(self.discovery_url(i) for i in range(3))}
                curl '{d1}/v2/keys/pxc-cluster/{CLUSTER_NAME}/?recursive=true'
                curl {d1}/v2/members
                ETCDCTL_API=2 etcdctl --endpoints {d1} ls -r /pxc-cluster
  Galera nodes  {', '.join('127.0.0.1:' + str(g['mysql_port']) for g in p['galera'])}
                test/galera/cluster --state-dir {self.galera.root} status|kill N|start N
  logs          {os.path.join(self.root, 'logs')}/*.log, {self.galera.root}/nodeN/mariadbd.log
  stop          scripts/down{self.state_dir_flag()}   (--purge also deletes the data)
""", flush=True)


    def wordpress_hint(self):
        try:
            with urllib.request.urlopen(self.wordpress_url() + "/", timeout=30) as resp:
                installing = "/wp-admin/install.php" in resp.geturl()
        except OSError:
            installing = False
        return ("open it to run WordPress's installer" if installing
                else "admin at /wp-admin/")

    def state_dir_flag(self):
        return "" if self.root == default_state_dir() else f" --state-dir {self.root}"


def check_default_ports(ports):
    wanted = [m[k] for m in ports["discovery"] for k in ("client", "peer")]
    wanted += [g[k] for g in ports["galera"] for k in g]
    wanted += [ports["sqlproxy"], ports["sqlproxy_admin"], ports["wordpress"]]
    busy = [port for port in wanted if not port_free(port)]
    if busy:
        raise StackError(f"ports in use on 127.0.0.1: {busy}; run with --ports free "
                         "(or HAWP_STACK_PORTS=free) to pick free ports")


def ensure_debian_config():
    try:
        with open(DEBIAN_CONFIG) as f:
            if f.read() == DEBIAN_CONFIG_TEXT:
                return
    except OSError:
        pass
    if os.getuid() == 0:
        with open(DEBIAN_CONFIG, "w") as f:
            f.write(DEBIAN_CONFIG_TEXT)
        return
    subprocess.run(["sudo", "tee", DEBIAN_CONFIG], input=DEBIAN_CONFIG_TEXT.encode(),
                   stdout=subprocess.DEVNULL, check=True)


def default_state_dir():
    return os.path.abspath(os.environ.get("HAWP_STACK_DIR") or os.path.join(REPO, ".stack"))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--state-dir", default=default_state_dir())
    parser.add_argument("--ports", choices=["default", "free"],
                        default=os.environ.get("HAWP_STACK_PORTS", "default"),
                        help="first up only: the defaults or free ports ($HAWP_STACK_PORTS)")
    parser.add_argument("--purge", action="store_true", help="down: also delete the state dir")
    parser.add_argument("--discovery-bin")
    parser.add_argument("--sqlproxy-bin")
    parser.add_argument("--first-step", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--total-steps", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    stack = Stack(args.state_dir, args.discovery_bin, args.sqlproxy_bin)
    try:
        if args.command == "up":
            stack.up(args.ports, args.first_step, args.total_steps)
        elif args.command == "down":
            if not stack.state and not args.purge:
                print(f"down: no stack in {stack.root}")
                return 0
            stack.down(args.purge)
            print(f"down: stopped the stack in {stack.root}"
                  + (" and deleted it" if args.purge else " (data kept; --purge deletes it)"))
        else:
            print(json.dumps({"state_dir": stack.root, "running": stack.pids(),
                              "sqlproxy": stack.sqlproxy_status()}, indent=2))
    except (StackError, galera.ClusterError) as err:
        print(f"stack: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
