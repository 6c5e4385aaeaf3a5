#!/usr/bin/python3
"""Crash test: no acknowledged write is lost when the server is SIGKILLed mid-stream.

Usage: crash_test.py [--server BIN] [--rounds N]   (server: $DISCOVERY_BIN, default
build/bin/discovery; pass --server etcd to check the test itself against etcd)
Each round a writer thread does PUTs of distinct keys, in-order POSTs and a CAS chain, recording
every acknowledged write; the main thread SIGKILLs the server once enough writes were acknowledged,
restarts it on the same data dir and checks: every acknowledged write is present with its value,
the CAS key holds the last acknowledged value (or the one in flight at the kill), the index went
on past every acknowledged index, and a ttl=3 key set just before the kill expires about on time.
Last line: "N passed, M failed".
"""

import argparse
import json
import os
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))

import rawhttp  # noqa: E402
import servers  # noqa: E402

ACKS_PER_ROUND = 150
ACK_DEADLINE_SECONDS = 60
TTL_SECONDS = 3
TTL_SLACK_SECONDS = 2.5   # restart plus one expiry sweep (500 ms) plus scheduling noise
FORM = "application/x-www-form-urlencoded"


class Client:
    """Keep-alive raw HTTP client that reconnects once per call."""

    def __init__(self, port):
        self.port = port
        self.conn = None

    def call(self, method, path, form=None):
        body = urllib.parse.urlencode(form) if form is not None else None
        if self.conn is None:
            self.conn = rawhttp.Connection(self.port, timeout=10)
        try:
            resp = self.conn.request(method, path, body=body,
                                     content_type=FORM if body is not None else None)
        except Exception:
            self.conn.close()
            self.conn = None
            raise
        return resp.status, json.loads(resp.body) if resp.body else None, resp

    def close(self):
        if self.conn is not None:
            self.conn.close()


class Writer(threading.Thread):
    """Writes until a request fails (the server was killed). Records acks and the in-flight op."""

    def __init__(self, port, round_num, state):
        super().__init__(daemon=True)
        self.client = Client(port)
        self.round = round_num
        self.state = state          # shared across rounds: acked dict, cas value, indexes
        self.acks = 0
        self.in_flight = None

    def run(self):
        num = 0
        try:
            while True:
                num += 1
                kind = num % 5
                if kind == 0:
                    self.cas()
                elif kind == 1:
                    self.append(num)
                else:
                    self.put(num)
                self.acks += 1
        except Exception:  # the kill; the op in flight may or may not have been applied
            pass
        finally:
            self.client.close()

    def put(self, num):
        key, value = f"/crash/r{self.round}/k{num}", f"v{self.round}-{num}"
        self.in_flight = ("put", key, value)
        status, body, _ = self.client.call("PUT", f"/v2/keys{key}", {"value": value})
        assert status == 201, (status, body)
        self.state["acked"][key] = value
        self.state["indexes"].append(body["node"]["modifiedIndex"])

    def append(self, num):
        value = f"q{self.round}-{num}"
        self.in_flight = ("post", None, value)
        status, body, _ = self.client.call("POST", "/v2/keys/crash/queue", {"value": value})
        assert status == 201, (status, body)
        self.state["acked"][body["node"]["key"]] = value
        self.state["indexes"].append(body["node"]["modifiedIndex"])

    def cas(self):
        prev, new = self.state["cas"], f"c{self.round}-{len(self.state['indexes'])}"
        self.in_flight = ("cas", prev, new)
        status, body, _ = self.client.call("PUT", "/v2/keys/crash/cas",
                                           {"value": new, "prevValue": prev})
        assert status == 200, (status, body)
        self.state["cas"] = new
        self.state["indexes"].append(body["node"]["modifiedIndex"])


def check(name, ok, detail, results):
    results.append(ok)
    print(f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f": {detail}"))
    sys.stdout.flush()


def read_all(client):
    """Every key under /crash (recursive, sorted) as {key: value}."""
    status, body, _ = client.call("GET", "/v2/keys/crash?recursive=true&sorted=true")
    found = {}
    if status != 200:
        return found

    def walk(node):
        if node.get("dir"):
            for child in node.get("nodes", []):
                walk(child)
        else:
            found[node["key"]] = node.get("value")
    walk(body["node"])
    return found


def wait_for_acks(writer, count):
    deadline = time.monotonic() + ACK_DEADLINE_SECONDS
    while writer.acks < count and writer.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    return writer.acks >= count


def verify(server, round_num, state, ttl_set_at, results):
    client = Client(server.client_port)
    try:
        found = read_all(client)
        lost = {k: v for k, v in state["acked"].items() if found.get(k) != v}
        check(f"round {round_num}: all {len(state['acked'])} acknowledged writes present", not lost,
              f"{len(lost)} lost or wrong, e.g. {list(lost.items())[:3]} "
              f"(found {[found.get(k) for k in list(lost)[:3]]})", results)
        cas_now = found.get("/crash/cas")
        in_flight = state["in_flight"]
        allowed = {state["cas"]}
        if in_flight and in_flight[0] == "cas" and in_flight[1] == state["cas"]:
            allowed.add(in_flight[2])
        check(f"round {round_num}: CAS key holds the last acknowledged value", cas_now in allowed,
              f"{cas_now!r} not in {allowed}", results)
        if cas_now != state["cas"]:
            state["cas"] = cas_now   # the in-flight CAS was applied after all
        status, body, _ = client.call("PUT", f"/v2/keys/crash/after{round_num}", {"value": "x"})
        top = max(state["indexes"])
        check(f"round {round_num}: index continues past {top}",
              status == 201 and body["node"]["modifiedIndex"] > top,
              f"status {status}, new index {body and body['node'].get('modifiedIndex')}", results)
        gone_at = None
        deadline = ttl_set_at + TTL_SECONDS + TTL_SLACK_SECONDS + 5
        while time.monotonic() < deadline:
            status, _, _ = client.call("GET", "/v2/keys/crash/ttl")
            if status == 404:
                gone_at = time.monotonic() - ttl_set_at
                break
            time.sleep(0.05)
        check(f"round {round_num}: ttl={TTL_SECONDS} key set before the kill expires on time "
              f"(gone after {gone_at and round(gone_at, 2)} s)",
              gone_at is not None and TTL_SECONDS - 1 <= gone_at <= TTL_SECONDS + TTL_SLACK_SECONDS,
              f"gone after {gone_at}s", results)
    finally:
        client.close()


def run_round(server, round_num, state, results):
    writer = Writer(server.client_port, round_num, state)
    writer.start()
    enough = wait_for_acks(writer, ACKS_PER_ROUND)
    # The ttl key goes in while the writer is still busy, just before the kill, so its
    # expiry has to survive the restart.
    client = Client(server.client_port)
    status, _, _ = client.call("PUT", "/v2/keys/crash/ttl", {"value": "t", "ttl": str(TTL_SECONDS)})
    ttl_set_at = time.monotonic()
    client.close()
    server.kill9()
    writer.join(timeout=30)
    state["in_flight"] = writer.in_flight
    check(f"round {round_num}: {writer.acks} writes acknowledged before SIGKILL",
          enough and status in (200, 201), f"writer stalled or ttl PUT got {status}", results)
    server.start()
    verify(server, round_num, state, ttl_set_at, results)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    server = servers.Server(servers.discovery_bin(args.server)).start()
    results = []
    state = {"acked": {}, "indexes": [], "cas": "c0", "in_flight": None}
    try:
        client = Client(server.client_port)
        client.call("PUT", "/v2/keys/crash/cas", {"value": "c0"})
        client.close()
        for round_num in range(1, args.rounds + 1):
            run_round(server, round_num, state, results)
    except Exception as err:  # reported as a failure; the summary line must still be printed
        check("crash test ran to the end", False, repr(err), results)
    finally:
        server.cleanup()
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
