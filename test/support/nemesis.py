"""A 3- (or 5-) member cluster of etcd-compatible servers on real processes, and a nemesis that
kills, pauses and partitions its members.

Both etcd 3.4 and build/bin/discovery take etcd's flags, so one launcher serves both.

Networking. As root with `ip netns` available, each member runs in its own network namespace,
joined to the others by a veth pair on a private bridge with a private 10.x/24 subnet created here
(nothing else can reach it); partitions are iptables DROP rules inside the members' namespaces, so
the test clients (on the host, reaching every member through the bridge) keep talking to both
sides, as real clients would. Otherwise every member listens on 127.0.0.1 and a partition is
simulated by SIGSTOPping the cut-off members. Everything created here (processes, namespaces,
bridge, data dirs under /tmp/jepsen-*) is removed by Cluster.cleanup(), also registered atexit;
namespaces left behind by a killed earlier run (its pid is in their names) are removed at setup.

Thread model: one thread (the test's main thread) owns the Cluster and the Nemesis and starts
every member process (each gets PR_SET_PDEATHSIG tied to that thread); client threads only read
member URLs.
"""

import atexit
import ctypes
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time
import json
import urllib.request

import servers

START_DEADLINE_SECONDS = 30.0
_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
NS_PREFIX = "hawpf"          # namespaces hawpf<pid>m<i>; bridge hfb<pid>; veths hfv<pid>m<i>


def _run(*cmd, check=True):
    return subprocess.run(cmd, check=check, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def _pid_alive(pid):
    return not servers._is_zombie_or_gone(pid)


def netns_available():
    """True when this process may create namespaces, veths, a bridge and iptables rules."""
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("iptables"):
        return False
    # Everything setup() needs, once, on throw-away names (containers often allow some of it).
    tag = os.getpid()
    probe, bridge, veth = f"{NS_PREFIX}{tag}probe", f"hfb{tag}", f"hfv{tag}probe"
    try:
        _run("ip", "netns", "add", probe)
        _run("ip", "link", "add", bridge, "type", "bridge")
        _run("ip", "link", "add", veth, "type", "veth", "peer", "name", f"hfp{tag}probe")
        _run("ip", "link", "set", f"hfp{tag}probe", "netns", probe)
        _run("ip", "link", "set", veth, "master", bridge)
        _run("ip", "netns", "exec", probe, "iptables", "-A", "INPUT", "-s", "10.213.0.2",
             "-j", "DROP")
        return True
    except (subprocess.CalledProcessError, OSError):
        return False
    finally:
        _run("ip", "netns", "del", probe, check=False)
        _run("ip", "link", "del", veth, check=False)
        _run("ip", "link", "del", bridge, check=False)


def remove_stale_networks():
    """Deletes namespaces and bridges of earlier runs whose process is gone (ctest timeouts
    SIGKILL the test, which then cannot clean up itself)."""
    listing = _run("ip", "netns", "list", check=False).stdout
    for name in re.findall(rf"^({NS_PREFIX}(\d+)\S*)", listing, re.M):
        if not _pid_alive(int(name[1])):
            _run("ip", "netns", "del", name[0], check=False)
    links = _run("ip", "-o", "link", "show", "type", "bridge", check=False).stdout
    for name, pid in re.findall(r"^\d+: (hfb(\d+))[:@]", links, re.M):
        if not _pid_alive(int(pid)):
            _run("ip", "link", "del", name, check=False)


class Network:
    """The private bridge and one namespace per member (root only). Owned by a Cluster."""

    def __init__(self, size):
        self.tag = str(os.getpid())
        self.bridge = f"hfb{self.tag}"
        self.subnet = self._pick_subnet()
        self.namespaces = [f"{NS_PREFIX}{self.tag}m{i}" for i in range(size)]
        self.ips = [f"{self.subnet}.{10 + i}" for i in range(size)]
        self.forward_rule = None

    def _pick_subnet(self):
        used = (_run("ip", "-4", "addr", check=False).stdout +
                _run("ip", "route", check=False).stdout)
        base = os.getpid() % 200
        for step in range(200):
            subnet = f"10.213.{20 + (base + step) % 200}"
            if subnet + "." not in used:
                return subnet
        raise RuntimeError("no free 10.213.x.0/24 subnet")

    def setup(self):
        remove_stale_networks()
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        # With br_netfilter loaded, bridged frames traverse the host's FORWARD chain; a DROP policy
        # there would cut the members off each other, so let our bridge through explicitly.
        policy = _run("iptables", "-S", "FORWARD", check=False).stdout
        if "-P FORWARD ACCEPT" not in policy:
            self.forward_rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]
            _run("iptables", "-I", *self.forward_rule)
        for i, (ns, ip) in enumerate(zip(self.namespaces, self.ips)):
            host_end, ns_end = f"hfv{self.tag}m{i}", f"hfp{self.tag}m{i}"
            _run("ip", "netns", "add", ns)
            _run("ip", "link", "add", host_end, "type", "veth", "peer", "name", ns_end)
            _run("ip", "link", "set", ns_end, "netns", ns)
            _run("ip", "link", "set", host_end, "master", self.bridge)
            _run("ip", "link", "set", host_end, "up")
            _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip}/24", "dev", ns_end)
            _run("ip", "netns", "exec", ns, "ip", "link", "set", ns_end, "up")

    def wrap(self, index, command):
        """The command run inside member `index`'s namespace. `ip netns exec` execs the command
        itself (no fork), so the PID we hold is the server's and signals reach it directly."""
        return ["ip", "netns", "exec", self.namespaces[index]] + command

    def partition(self, groups):
        """Each member drops every packet from and to members outside its own group."""
        self.heal()
        for group in groups:
            for i in group:
                for j in range(len(self.ips)):
                    if j in group:
                        continue
                    ns = self.namespaces[i]
                    _run("ip", "netns", "exec", ns, "iptables", "-A", "INPUT", "-s", self.ips[j],
                         "-j", "DROP")
                    _run("ip", "netns", "exec", ns, "iptables", "-A", "OUTPUT", "-d", self.ips[j],
                         "-j", "DROP")

    def heal(self):
        for ns in self.namespaces:
            _run("ip", "netns", "exec", ns, "iptables", "-F", "INPUT", check=False)
            _run("ip", "netns", "exec", ns, "iptables", "-F", "OUTPUT", check=False)

    def teardown(self):
        # Delete the veths first: a deleted namespace frees its devices asynchronously, and the
        # next run of this process reuses the same names (seen once in 50 runs: "File exists").
        for i, ns in enumerate(self.namespaces):
            _run("ip", "link", "del", f"hfv{self.tag}m{i}", check=False)
            _run("ip", "netns", "del", ns, check=False)
        _run("ip", "link", "del", self.bridge, check=False)
        if self.forward_rule:
            _run("iptables", "-D", *self.forward_rule, check=False)
            self.forward_rule = None


class Member:
    """One member process of the cluster; owns its data dir and log. Ports and data dir are kept
    across restarts so a restarted member recovers its own state."""

    def __init__(self, cluster, index, host):
        self.cluster = cluster
        self.index = index
        self.name = f"m{index}"
        self.host = host
        self.client_port = servers.free_port()
        self.peer_port = servers.free_port()
        self.data_dir = os.path.join(cluster.root, f"{self.name}.data")
        self.log_path = os.path.join(cluster.root, f"{self.name}.log")
        self.proc = None
        self.paused = False
        self.expected_exit = False   # set when we kill or stop it; any other exit is a crash

    @property
    def client_url(self):
        return f"http://{self.host}:{self.client_port}"

    @property
    def peer_url(self):
        return f"http://{self.host}:{self.peer_port}"

    def command(self):
        return [
            self.cluster.binary,
            "--name", self.name,
            "--data-dir", self.data_dir,
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", self.cluster.initial_cluster(),
            "--initial-cluster-state", "new",
            "--initial-cluster-token", self.cluster.token,
            "--enable-v2=true",
        ] + self.cluster.extra_args

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def note_crash(self):
        """Records in cluster.crashes an exit we did not cause (at most once per process)."""
        if self.proc is None or self.running() or self.expected_exit:
            return
        self.expected_exit = True
        self.cluster.crashes.append(f"{self.name} exited on its own ({self.proc.returncode}):\n"
                                    f"{self.log_tail()}")

    def start(self):
        assert not self.running(), f"{self.name} already running"
        self.note_crash()
        net = self.cluster.network
        with open(self.log_path, "ab") as log:
            command = net.wrap(self.index, self.command()) if net else self.command()
            # A member dies with the thread that started it (always the test's main thread), so
            # a test killed by a ctest timeout leaves no server behind.
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL,
                                         preexec_fn=lambda: _LIBC.prctl(PR_SET_PDEATHSIG,
                                                                        signal.SIGKILL))
        self.paused = False
        self.expected_exit = False

    def signal(self, sig):
        if self.running():
            os.kill(self.proc.pid, sig)
            if sig == signal.SIGSTOP:
                self.paused = True
            elif sig == signal.SIGCONT:
                self.paused = False

    def kill9(self):
        self.note_crash()
        if self.running():
            self.expected_exit = True
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.paused = False

    def stop(self):
        self.note_crash()
        if self.running():
            self.expected_exit = True
            os.kill(self.proc.pid, signal.SIGCONT)
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.proc is not None:
            assert servers._is_zombie_or_gone(self.proc.pid), f"{self.name} not reaped"

    def get_json(self, path, timeout=1.0):
        with urllib.request.urlopen(self.client_url + path, timeout=timeout) as resp:
            return json.loads(resp.read())

    def healthy(self):
        try:
            with urllib.request.urlopen(self.client_url + "/health", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def log_tail(self, lines=20):
        try:
            with open(self.log_path, "rb") as log:
                return b"\n".join(log.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""


_LIVE = []


@atexit.register
def _cleanup_leftovers():
    for cluster in list(_LIVE):
        cluster.cleanup()


class Cluster:
    """`size` members of `binary` bootstrapped together; see the module comment for networking."""

    def __init__(self, binary, size=3, use_netns=True, extra_args=()):
        self.binary = servers.resolve_binary(binary)
        self.root = tempfile.mkdtemp(prefix="jepsen-")
        self.token = f"jepsen-{os.getpid()}-{random.randrange(1 << 30)}"
        self.extra_args = list(extra_args)
        self.network = Network(size) if use_netns else None
        hosts = self.network.ips if self.network else ["127.0.0.1"] * size
        self.members = [Member(self, i, hosts[i]) for i in range(size)]
        self.crashes = []    # one text per member exit nobody asked for (with its log tail)
        _LIVE.append(self)

    @property
    def mode(self):
        return "netns" if self.network else "loopback"

    def initial_cluster(self):
        return ",".join(f"{m.name}={m.peer_url}" for m in self.members)

    def start(self):
        if self.network:
            self.network.setup()
        for member in self.members:
            member.start()
        self.wait_healthy()
        return self

    def wait_healthy(self, deadline_seconds=START_DEADLINE_SECONDS):
        """Polls until every member runs and answers /health with 200 (it has a leader)."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            for member in self.members:
                if not member.running():
                    member.note_crash()
                    raise RuntimeError(f"{member.name} exited ({member.proc.returncode}):\n"
                                       f"{member.log_tail()}")
            if all(member.healthy() for member in self.members):
                return
            time.sleep(0.1)
        raise TimeoutError("cluster not healthy within deadline:\n" +
                           "\n".join(f"{m.name}: {m.log_tail(5)}" for m in self.members))

    def leader(self):
        """The member whose /v2/stats/self says StateLeader, among running unpaused members."""
        for member in self.members:
            if not member.running() or member.paused:
                continue
            try:
                if member.get_json("/v2/stats/self", timeout=0.5).get("state") == "StateLeader":
                    return member
            except (OSError, ValueError):
                continue
        return None

    def heal_all(self):
        """Undoes every fault: heals the network, resumes paused members, restarts dead ones."""
        if self.network:
            self.network.heal()
        for member in self.members:
            if member.paused:
                member.signal(signal.SIGCONT)
            if not member.running():
                member.start()

    def cleanup(self):
        for member in self.members:
            try:
                member.stop()
            except Exception:  # keep tearing down the rest
                if member.running():
                    os.kill(member.proc.pid, signal.SIGKILL)
        if self.network:
            self.network.teardown()
        shutil.rmtree(self.root, ignore_errors=True)
        if self in _LIVE:
            _LIVE.remove(self)


class Nemesis:
    """Injects one fault at a time into a Cluster, holds it, heals it. Faults:
      kill       SIGKILL the leader or a random member, restart it on the same data dir
      pause      SIGSTOP the current leader (any member if none is known), then SIGCONT
      partition  cut a random minority (1 of 3; 1 or 2 of 5; half the time with the leader in
                 it) off the others; without namespaces the minority is SIGSTOPped instead
    and, only when asked for (not in FAULTS):
      kill-majority  SIGKILL a majority (the leader among them), restart them all together: the
                 cluster has no quorum meanwhile and recovers everything from the data dirs
    `log` collects one line per fault for the summary."""

    FAULTS = ("kill", "pause", "partition")
    ALL_FAULTS = FAULTS + ("kill-majority",)

    def __init__(self, cluster, rng, faults=FAULTS):
        self.cluster = cluster
        self.rng = rng
        self.faults = tuple(faults)
        self.log = []
        self.counts = {}

    def inject(self, fault, hold_seconds):
        members = self.cluster.members
        start = time.monotonic()
        if fault == "kill":
            victim = (self.cluster.leader() if self.rng.random() < 0.5 else None) or \
                self.rng.choice(members)
            victim.kill9()
            self._hold(hold_seconds)
            victim.start()
            detail = victim.name
        elif fault == "kill-majority":
            leader = self.cluster.leader()
            others = [m for m in members if m is not leader]
            victims = ([leader] if leader else []) + self.rng.sample(
                others, len(members) // 2 + 1 - (1 if leader else 0))
            for victim in victims:
                victim.kill9()
            self._hold(hold_seconds)
            for victim in victims:
                victim.start()
            detail = ",".join(v.name for v in victims)
        elif fault == "pause":
            victim = self.cluster.leader() or self.rng.choice(members)
            victim.signal(signal.SIGSTOP)
            self._hold(hold_seconds)
            victim.signal(signal.SIGCONT)
            detail = victim.name
        else:
            detail = self._partition(members, hold_seconds)
        self.counts[fault] = self.counts.get(fault, 0) + 1
        self.log.append(f"{start:.2f} {fault} {detail} for {hold_seconds:.1f}s")

    def _partition(self, members, hold_seconds):
        """Cuts a random minority (half the time containing the leader) off the majority."""
        size = self.rng.randint(1, (len(members) - 1) // 2)
        leader = self.cluster.leader() if self.rng.random() < 0.5 else None
        others = [m for m in members if m is not leader]
        minority = [leader] if leader else []
        minority += self.rng.sample(others, size - len(minority))
        cut = [m.index for m in minority]
        rest = [m.index for m in members if m.index not in cut]
        if self.cluster.network:
            self.cluster.network.partition([cut, rest])
            self._hold(hold_seconds)
            self.cluster.network.heal()
        else:
            for member in minority:
                member.signal(signal.SIGSTOP)
            self._hold(hold_seconds)
            for member in minority:
                member.signal(signal.SIGCONT)
        return f"{','.join(m.name for m in minority)} | {','.join(members[i].name for i in rest)}"

    @staticmethod
    def _hold(seconds):
        # The fault's duration is the point of the schedule, not a wait for a condition.
        time.sleep(seconds)

    def run(self, until, stop_event=None):
        """Injects random faults with random gaps until monotonic time `until`."""
        while time.monotonic() < until and not (stop_event and stop_event.is_set()):
            time.sleep(self.rng.uniform(0.3, 1.0))
            hold = min(self.rng.uniform(0.8, 3.0), max(0.1, until - time.monotonic()))
            self.inject(self.rng.choice(self.faults), hold)
