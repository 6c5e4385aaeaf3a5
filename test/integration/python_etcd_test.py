#!/usr/bin/python3
"""python-etcd against the reference and the server under test; behaviours compared.

Usage: python_etcd_test.py [--server BIN] [--reference BIN]   (run with /usr/bin/python3)
Each step calls the python-etcd Client (or etcd.Lock) and reduces the outcome to text: the
result's action, key, value, dir, ttl (±1), child keys and indexes (as ordinals), or the exception
class and message. Warnings python-etcd logs (e.g. a missing X-Etcd-Cluster-Id) are recorded too.
Last line: "N passed, M failed".
"""

import argparse
import logging
import os
import re
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import etcd  # noqa: E402  (python3-etcd, only under /usr/bin/python3)
import masking  # noqa: E402
import servers  # noqa: E402

HISTORY_EVENTS = 1000
_HEX_ID_RE = re.compile(r"\b[0-9a-f]{12,16}\b")
P = "/pyetcd"


class LogCapture(logging.Handler):
    """Collects python-etcd's warnings per thread, so each side sees only its own."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.by_thread = {}

    def emit(self, record):
        self.by_thread.setdefault(threading.get_ident(), []).append(record.getMessage())

    def take(self):
        return self.by_thread.pop(threading.get_ident(), [])


LOGS = LogCapture()
logging.getLogger("etcd").addHandler(LOGS)
logging.getLogger("etcd").propagate = False


class Side:
    def __init__(self, server):
        self.server = server
        self.client = etcd.Client(host="127.0.0.1", port=server.client_port, read_timeout=10)
        self.masker = masking.Masker(server.client_port, server.peer_port)
        self.saved = {}

    def idx(self, value):
        return self.masker.index(str(value)) if value is not None else "None"

    def describe(self, result):
        if not isinstance(result, etcd.EtcdResult):
            return _HEX_ID_RE.sub("<ID>", self.masker.text(repr(result)))
        ttl = result.ttl
        if ttl is not None:
            self.masker.ttls.append(int(ttl))
            ttl = "<TTL>"
        children = sorted(c.key for c in result.leaves if c.key != result.key) \
            if result.dir else []
        return (f"action={result.action} key={result.key} value={result.value!r} "
                f"dir={result.dir} ttl={ttl} modified={self.idx(result.modifiedIndex)} "
                f"created={self.idx(result.createdIndex)} etcd_index={self.idx(result.etcd_index)} "
                f"expiration={'<TIME>' if result.expiration else None} "
                f"children={[self.masker.text(k) for k in children]} "
                f"prev={_prev_value(result)!r}")

    def run(self, step):
        try:
            out = self.describe(step(self))
        except Exception as err:  # the exception is the observed behaviour
            text = self.masker.text(str(err))
            out = f"raises {type(err).__name__}: {text}"
        logs = LOGS.take()
        return out + (f" | logged {logs}" if logs else "")


def fill_history(s):
    for num in range(HISTORY_EVENTS + 5):
        s.client.write(f"{P}/hist", str(num))
    return "filled"


def lock_cycle(s):
    lock = etcd.Lock(s.client, "pylock")
    got = lock.acquire(blocking=True, lock_ttl=30, timeout=5)
    held = lock.is_acquired
    other = etcd.Lock(s.client, "pylock")
    second = other.acquire(blocking=False, lock_ttl=30)
    lock.release()
    after = other.acquire(blocking=True, lock_ttl=30, timeout=5)
    other.release()
    return (got, held, second, after, other.is_acquired)


def live_watch(s, recursive):
    """client.watch() without an index blocks; start it, wait for the server to count the
    watcher, then write, and return what the watch returned."""
    out = {}
    key = P if recursive else f"{P}/a"

    def watch():
        try:
            out["result"] = s.client.watch(key, recursive=recursive, timeout=10)
        except Exception as err:  # recorded as the outcome
            out["result"] = err
    s.server.wait_no_watchers()
    before = 0
    thread = threading.Thread(target=watch)
    thread.start()
    registered = s.server.wait_watchers(before + 1)
    s.client.write(f"{P}/a", "live")
    thread.join(timeout=15)
    if isinstance(out.get("result"), Exception):
        raise out["result"]
    return out.get("result", f"no result (registered={registered})")


def steps():
    c = lambda f: (lambda s: f(s.client))  # noqa: E731
    return [
        ("write new", c(lambda cl: cl.write(f"{P}/a", "1"))),
        ("read", c(lambda cl: cl.read(f"{P}/a"))),
        ("write overwrite", c(lambda cl: cl.write(f"{P}/a", "2"))),
        ("write prevExist=False on existing", c(lambda cl: cl.write(f"{P}/a", "x",
                                                                 prevExist=False))),
        ("read missing", c(lambda cl: cl.read(f"{P}/nope"))),
        ("get missing", c(lambda cl: cl.get(f"{P}/nope"))),
        ("update (sends prevIndex)", c(_update)),
        ("test_and_set ok", c(lambda cl: cl.test_and_set(f"{P}/a", "4", "3"))),
        ("test_and_set fails", c(lambda cl: cl.test_and_set(f"{P}/a", "5", "zz"))),
        ("write with ttl", c(lambda cl: cl.write(f"{P}/t", "x", ttl=100))),
        ("refresh ttl", c(lambda cl: cl.refresh(f"{P}/t", ttl=200))),
        ("write dir", c(lambda cl: cl.write(f"{P}/d", None, dir=True))),
        ("write dir again", c(lambda cl: cl.write(f"{P}/d", None, dir=True))),
        ("write into dir", c(lambda cl: cl.write(f"{P}/d/x", "dx"))),
        ("write value on dir", c(lambda cl: cl.write(f"{P}/d", "v"))),
        ("read dir", c(lambda cl: cl.read(f"{P}/d"))),
        ("read recursive sorted", c(lambda cl: cl.read(P, recursive=True, sorted=True))),
        ("append 1", c(lambda cl: cl.write(f"{P}/q", "first", append=True))),
        ("append 2", c(lambda cl: cl.write(f"{P}/q", "second", append=True))),
        ("read appended sorted", c(lambda cl: cl.read(f"{P}/q", sorted=True))),
        ("pop", c(lambda cl: cl.pop(f"{P}/t"))),
        ("delete dir non-recursive", c(lambda cl: cl.delete(f"{P}/d"))),
        ("delete dir=True non-empty", c(lambda cl: cl.delete(f"{P}/d", dir=True))),
        ("delete recursive", c(lambda cl: cl.delete(f"{P}/d", recursive=True))),
        ("delete prevValue wrong", c(lambda cl: cl.delete(f"{P}/a", prevValue="zz"))),
        ("delete root", c(lambda cl: cl.delete("/", recursive=True))),
        ("watch with index (history)", c(lambda cl: cl.watch(
            f"{P}/a", index=cl.read(f"{P}/a").modifiedIndex, timeout=5))),
        ("watch recursive with index", c(lambda cl: cl.watch(
            P, index=cl.read(f"{P}/q", sorted=True).modifiedIndex, recursive=True, timeout=5))),
        ("watch live", lambda s: live_watch(s, False)),
        ("watch live recursive", lambda s: live_watch(s, True)),
        ("fill history", fill_history),
        ("watch cleared index", c(lambda cl: cl.watch(f"{P}/hist", index=1, timeout=5))),
        ("read wait cleared", c(lambda cl: cl.read(f"{P}/hist", wait=True, waitIndex=2,
                                                   timeout=5))),
        ("leader", c(lambda cl: cl.leader)),
        ("machines", c(lambda cl: cl.machines)),
        ("members", c(lambda cl: cl.members)),
        ("version", c(lambda cl: cl.version)),
        ("cluster_version", c(lambda cl: cl.cluster_version)),
        ("stats shape", c(lambda cl: masking.shape(__import__("json").dumps(cl.stats)))),
        ("store_stats keys", c(lambda cl: list(cl.store_stats))),
        ("leader_stats keys", c(lambda cl: list(cl.leader_stats))),
        ("etcd.Lock acquire/contend/release", lock_cycle),
        ("cleanup", c(lambda cl: cl.delete(P, recursive=True))),
    ]


def _prev_value(result):
    prev = getattr(result, "_prev_node", None)
    return prev.value if prev is not None else None


def _update(cl):
    result = cl.read(f"{P}/a")
    result.value = "3"
    return cl.update(result)


def run_side(server, out):
    side = Side(server)
    for _, step in steps():
        out.append(side.run(step))
    out.append(("ttls", side.masker.ttls))


def ttl_close(a, b):
    return len(a) == len(b) and all(abs(x - y) <= 1 for x, y in zip(a, b))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--reference")
    args = parser.parse_args()
    ref = servers.Server(servers.reference_bin(args.reference)).start()
    test = servers.Server(servers.discovery_bin(args.server)).start()
    results = {"ref": [], "test": []}
    try:
        threads = [threading.Thread(target=run_side, args=(ref, results["ref"])),
                   threading.Thread(target=run_side, args=(test, results["test"]))]
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
            print(f"PASS {label}: {want[:150]}")
        else:
            failed += 1
            print(f"FAIL {label}\n  reference:  {want}\n  under test: {got}")
    if ttl_close(results["ref"][-1][1], results["test"][-1][1]):
        passed += 1
        print("PASS ttl values within 1 s")
    else:
        failed += 1
        print(f"FAIL ttl values: {results['ref'][-1]} vs {results['test'][-1]}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
