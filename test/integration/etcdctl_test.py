#!/usr/bin/python3
"""etcdctl (ETCDCTL_API=2) against the reference and the server under test, outputs compared.

Usage: etcdctl_test.py [--server BIN] [--reference BIN] [--etcdctl PATH]
Each step runs `etcdctl --endpoints http://127.0.0.1:P ARGS...` on both sides; the exit code,
stdout and stderr must match after masking indexes (ordinals), member ids, ports and ttls (±1).
etcdctl first reads /v2/members and then talks to the advertised client URLs, so those must be
right for any step to pass. Last line: "N passed, M failed".
"""

import argparse
import os
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import masking  # noqa: E402
import servers  # noqa: E402

STEP_TIMEOUT_SECONDS = 15
_HEX_ID_RE = re.compile(r"\b[0-9a-f]{12,16}\b")
_ERROR_INDEX_RE = re.compile(r"\[(\d+)\]$", re.M)
_CAS_INDEX_RE = re.compile(r"\[(\d+) != (\d+)\]")
_INORDER_LINE_RE = re.compile(r"/(\d{20})$", re.M)
_EXEC_INDEX_RE = re.compile(r" (\d+)$", re.M)
_EXTENDED_INDEX_RE = re.compile(r"^(Created-Index|Modified-Index|Index): (\d+)$", re.M)
_EXTENDED_TTL_RE = re.compile(r"^TTL: (\d+)$", re.M)


class Side:
    """One server plus its masker; steps run in order on one thread."""

    def __init__(self, server, etcdctl):
        self.server = server
        self.etcdctl = etcdctl
        self.masker = masking.Masker(server.client_port, server.peer_port)
        self.env = dict(os.environ, ETCDCTL_API="2")

    def run(self, args):
        proc = subprocess.run([self.etcdctl, "--endpoints", self.server.client_url, *args],
                              capture_output=True, text=True, env=self.env,
                              timeout=STEP_TIMEOUT_SECONDS)
        return proc.returncode, self.mask(proc.stdout), self.mask(proc.stderr)

    def exec_watch(self, args, lines):
        """exec-watch never exits by itself: read `lines` output lines, then stop it."""
        proc = subprocess.Popen([self.etcdctl, "--endpoints", self.server.client_url, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        timer = threading.Timer(STEP_TIMEOUT_SECONDS, proc.kill)
        timer.start()
        out = [proc.stdout.readline() for _ in range(lines)]
        timer.cancel()
        proc.kill()
        proc.wait()
        return "exec-watch", self.mask("".join(out), exec_watch=True), ""

    def live(self, args, write, lines):
        """Starts a watching etcdctl, waits until the server counts its watcher, makes `write`
        (etcdctl args), then reads `lines` lines of the watcher's output."""
        self.server.wait_no_watchers()
        before = 0
        proc = subprocess.Popen([self.etcdctl, "--endpoints", self.server.client_url, *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env)
        timer = threading.Timer(STEP_TIMEOUT_SECONDS, proc.kill)
        timer.start()
        try:
            registered = self.server.wait_watchers(before + 1)
            self.run(write)
            out = [proc.stdout.readline() for _ in range(lines)]
        finally:
            timer.cancel()
            proc.kill()
            proc.wait()
        return f"registered={registered}", self.mask("".join(out), exec_watch=True), ""

    def mask(self, text, exec_watch=False):
        text = _CAS_INDEX_RE.sub(lambda m: f"[{self.masker.index(m.group(1))} != "
                                 f"{self.masker.index(m.group(2))}]", text)
        text = _INORDER_LINE_RE.sub(lambda m: "/{" + self.masker.index(m.group(1)) + "}", text)
        if exec_watch:
            text = _EXEC_INDEX_RE.sub(lambda m: " " + self.masker.index(m.group(1)), text)
        text = _ERROR_INDEX_RE.sub(lambda m: f"[{self.masker.index(m.group(1))}]", text)
        text = _EXTENDED_INDEX_RE.sub(lambda m: f"{m.group(1)}: {self.masker.index(m.group(2))}",
                                      text)
        text = _EXTENDED_TTL_RE.sub(lambda m: self.masker._ttl(m) and "TTL: <TTL>", text)
        text = self.masker.text(text)
        return _HEX_ID_RE.sub("<ID>", text)

    def index(self):
        out = subprocess.run([self.etcdctl, "--endpoints", self.server.client_url, "-o",
                              "extended", "get", "/ctl/a"], capture_output=True, text=True,
                             env=self.env).stdout
        return int(re.search(r"^Index: (\d+)$", out, re.M).group(1))


# etcdctl's flag parser drops "--", after which exec-watch takes the LAST argument as the key.
EXEC_ECHO = "echo $ETCD_WATCH_ACTION $ETCD_WATCH_KEY $ETCD_WATCH_VALUE $ETCD_WATCH_MODIFIED_INDEX"


def steps():
    """(label, args or callable(side) -> result)."""
    p = "/ctl"
    return [
        ("set", ["set", f"{p}/a", "1"]),
        ("get", ["get", f"{p}/a"]),
        ("get extended", ["-o", "extended", "get", f"{p}/a"]),
        ("get json", ["-o", "json", "get", f"{p}/a"]),
        ("get missing: exit 4", ["get", f"{p}/nope"]),
        ("mk existing: 105", ["mk", f"{p}/a", "2"]),
        ("mk new", ["mk", f"{p}/b", "2"]),
        ("mk --in-order", ["mk", "--in-order", f"{p}/q", "first"]),
        ("mkdir", ["mkdir", f"{p}/d"]),
        ("mkdir existing", ["mkdir", f"{p}/d"]),
        ("get dir: exit 1", ["get", f"{p}/d"]),
        ("setdir", ["setdir", f"{p}/sd"]),
        ("update", ["update", f"{p}/a", "3"]),
        ("update missing", ["update", f"{p}/nope", "x"]),
        ("updatedir missing", ["updatedir", "--ttl", "100", f"{p}/nodir"]),
        ("set --ttl", ["set", "--ttl", "100", f"{p}/t", "x"]),
        ("get ttl extended", ["-o", "extended", "get", f"{p}/t"]),
        ("set --swap-with-value wrong", ["set", "--swap-with-value", "zz", f"{p}/a", "4"]),
        ("set --swap-with-value ok", ["set", "--swap-with-value", "3", f"{p}/a", "4"]),
        ("set --swap-with-index wrong", ["set", "--swap-with-index", "1", f"{p}/a", "5"]),
        ("ls", ["ls", "--sort", p]),
        ("ls -r --sort", ["ls", "-r", "--sort", p]),
        ("ls -p -r --sort", ["ls", "-p", "-r", "--sort", p]),
        ("ls missing", ["ls", f"{p}/nope"]),
        ("ls json", ["-o", "json", "ls", "--sort", f"{p}/d"]),
        ("watch --after-index (history)", lambda s: s.run(
            ["watch", "--after-index", str(s.index() - 2), f"{p}/a"])),
        ("watch -r --after-index", lambda s: s.run(
            ["watch", "-r", "--after-index", str(s.index() - 3), p])),
        ("exec-watch --after-index", lambda s: s.exec_watch(
            ["exec-watch", "--after-index", str(s.index() - 2), "--", "sh", "-c", EXEC_ECHO,
             f"{p}/a"], 1)),
        ("watch (live)", lambda s: s.live(["watch", f"{p}/a"], ["set", f"{p}/a", "live"], 1)),
        ("watch -r (live)", lambda s: s.live(["watch", "-r", p], ["mk", f"{p}/w/x", "y"], 1)),
        ("exec-watch (live)", lambda s: s.live(
            ["exec-watch", "--", "sh", "-c", EXEC_ECHO, f"{p}/a"],
            ["update", f"{p}/a", "live2"], 1)),
        ("rm file", ["rm", f"{p}/b"]),
        ("rm dir without flag: 102", ["rm", f"{p}/d"]),
        ("rm --with-value wrong", ["rm", "--with-value", "zz", f"{p}/a"]),
        ("rmdir on file", ["rmdir", f"{p}/t"]),
        ("rmdir empty dir", ["rmdir", f"{p}/d"]),
        ("rm -r", ["rm", "-r", f"{p}/sd"]),
        ("rm root", ["rm", "-r", "/"]),
        ("member list", ["member", "list"]),
        ("cluster-health", ["cluster-health"]),
        ("--no-sync get", ["--no-sync", "get", f"{p}/a"]),
        ("bad command", ["nosuchcommand"]),
        ("rm -r cleanup", ["rm", "-r", p]),
    ]


def run_side(side, results):
    for label, step in steps():
        try:
            results.append(step(side) if callable(step) else side.run(step))
        except Exception as err:  # one failing step is a recorded difference, not a crash
            results.append(("exception", repr(err), ""))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--reference")
    parser.add_argument("--etcdctl", default=os.environ.get("ETCDCTL_BIN", "etcdctl"))
    args = parser.parse_args()
    ref = servers.Server(servers.reference_bin(args.reference)).start()
    test = servers.Server(servers.discovery_bin(args.server)).start()
    results = {"ref": [], "test": []}
    try:
        threads = [threading.Thread(target=run_side, args=(Side(ref, args.etcdctl),
                                                          results["ref"])),
                   threading.Thread(target=run_side, args=(Side(test, args.etcdctl),
                                                          results["test"]))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        ref.cleanup()
        test.cleanup()
    passed = failed = 0
    for (label, _), want, got in zip(steps(), results["ref"], results["test"]):
        if want == got:
            passed += 1
            print(f"PASS {label}: exit {want[0]} {(want[1] or want[2])[:100]!r}")
        else:
            failed += 1
            print(f"FAIL {label}\n  reference: {want!r}\n  under test: {got!r}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
