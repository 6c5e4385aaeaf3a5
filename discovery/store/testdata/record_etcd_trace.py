#!/usr/bin/python3
"""Records a golden trace of v2 keys requests against a real etcd 3.4 (--enable-v2=true).

Usage: record_etcd_trace.py http://127.0.0.1:PORT SEED COUNT [--ttl-watch|--live|--expire]

The first line holds the etcd index and /v2/stats/store before the run; each further line is one
request ("op") with etcd's status and JSON body; the last line holds the stats after the run.
store_trace_test.cc replays the ops on a Store and compares. The plain workload has no TTLs and
no watches. With --ttl-watch it adds long TTLs (1000 s, so nothing expires during the run; the
test masks ttl and expiration values) and refreshes, and watches with a waitIndex at or below the
current index: etcd answers those from its history at once, and a watch still waiting after
0.3 s is recorded as "waiting".
With --live, watchers (see LIVE_WATCHERS) are registered before the plain workload starts, and a
last "watchers" line lists the events each of them received. --expire adds 1 s TTLs to the live
workload and, after every 40 requests, waits 2.5 s (so etcd expires them, at most 1 s after the
phase began) and records a "sync" line with a GET of the root.
"""
import http.client
import json
import random
import socket
import sys
import threading
import time
import urllib.parse

NAMES = ["a", "b", "_h", "c"]
VALUES = ["x", "y"]


def request(conn, method, path, params):
    # Go's ParseForm reads a form body only for POST, PUT and PATCH: DELETE takes the query.
    in_body = method in ("PUT", "POST")
    body = urllib.parse.urlencode(params) if in_body else None
    url = "/v2/keys" + path
    if not in_body and params:
        url += "?" + urllib.parse.urlencode(params)
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
    conn.request(method, url, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read().decode()
    return response.status, int(response.getheader("X-Etcd-Index")), json.loads(data)


# (key, recursive, stream) of the watchers that --live registers, in this order.
LIVE_WATCHERS = [("/", True, True), ("/a", False, True), ("/a", True, True), ("/a/b", False, True),
                 ("/_h", True, True), ("/a/_h", False, True), ("/c/a/b", False, True),
                 ("/b", True, False), ("/c", False, False)]


class LiveWatcher:
    def __init__(self, parsed, key, recursive, stream):
        self.events = []
        self.conn = http.client.HTTPConnection(parsed.hostname, parsed.port)
        query = {"wait": "true", "stream": "true" if stream else "false"}
        if recursive:
            query["recursive"] = "true"
        self.conn.request("GET", "/v2/keys" + key + "?" + urllib.parse.urlencode(query))
        self.response = self.conn.getresponse()  # etcd sends the header once registered
        self.thread = threading.Thread(target=self.read, daemon=True)
        self.thread.start()

    def read(self):
        try:
            while True:
                line = self.response.readline()
                if not line:
                    return
                if line.strip():
                    self.events.append(json.loads(line))
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return


def stats(conn):
    conn.request("GET", "/v2/stats/store")
    response = conn.getresponse()
    return json.loads(response.read().decode())


def random_op(rng, index, ttl_watch, expire=False):
    depth = rng.choice([0, 1, 1, 2, 2, 2, 3, 3])
    key = "".join("/" + rng.choice(NAMES) for _ in range(depth)) or "/"
    roll = rng.random()
    params = {}
    if ttl_watch and roll < 0.12:
        params["wait"] = "true"
        back = rng.randint(0, index) if rng.random() < 0.15 else rng.randint(0, 40)
        params["waitIndex"] = str(max(1, index - back))
        if rng.random() < 0.5:
            params["recursive"] = "true"
        return "GET", key, params
    if ttl_watch and roll < 0.2:
        params["refresh"] = "true"
        params["ttl"] = "1000"
        if rng.random() < 0.6:
            params["prevExist"] = "true"
        return "PUT", key, params
    if roll < 0.25:
        method = "GET"
        if rng.random() < 0.5:
            params["recursive"] = "true"
        params["sorted"] = "true"
        return method, key, params
    method = "PUT" if roll < 0.7 else ("DELETE" if roll < 0.9 else "POST")
    if method != "DELETE" and rng.random() < 0.7:
        params["value"] = rng.choice(VALUES)
    if rng.random() < 0.25:
        params["dir"] = "true"
    if method == "PUT" and rng.random() < 0.25:
        params["prevExist"] = rng.choice(["true", "false"])
    if method != "POST" and rng.random() < 0.15:
        params["prevValue"] = rng.choice(VALUES)
    if method != "POST" and rng.random() < 0.15:
        params["prevIndex"] = str(max(1, index - rng.randint(0, 2)))
    if method == "DELETE" and rng.random() < 0.4:
        params["recursive"] = "true"
    if ttl_watch and method != "DELETE" and rng.random() < 0.3:
        params["ttl"] = "1000"
    if expire and method != "DELETE" and rng.random() < 0.3:
        params["ttl"] = rng.choice(["1", "1", "1000"])
    return method, key, params


def main():
    base_url, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ttl_watch = "--ttl-watch" in sys.argv[4:]
    expire = "--expire" in sys.argv[4:]
    live = "--live" in sys.argv[4:] or expire
    parsed = urllib.parse.urlparse(base_url)
    connect = lambda: http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=0.3)
    conn = connect()
    rng = random.Random(seed)
    _, index, _ = request(conn, "GET", "/", {})
    print(json.dumps({"start_index": index, "stats": stats(conn)}))
    if ttl_watch:
        # 1000 sets first, so that old waitIndexes fall out of the 1000-event history.
        for i in range(1000):
            status, index, _ = request(conn, "PUT", "/fill", {"value": str(i)})
            assert status in (200, 201)
        print(json.dumps({"fill": 1000, "key": "/fill", "etcd_index": index}))
    watchers = [LiveWatcher(parsed, *spec) for spec in LIVE_WATCHERS] if live else []
    for n in range(count):
        if expire and n % 40 == 39:
            time.sleep(2.5)
            status, index, body = request(conn, "GET", "/", {"sorted": "true"})
            print(json.dumps({"sync": True, "method": "GET", "key": "/", "params": {},
                              "status": status, "etcd_index": index, "body": body}))
        method, key, params = random_op(rng, index, ttl_watch, expire)
        line = {"method": method, "key": key, "params": params}
        try:
            status, index, body = request(conn, method, key, params)
            line.update({"status": status, "etcd_index": index, "body": body})
        except socket.timeout:
            conn.close()
            conn = connect()
            line.update({"waiting": True, "etcd_index": index})
        print(json.dumps(line))
    if watchers:
        time.sleep(1.0)
        print(json.dumps({"watchers": [{"key": key, "recursive": recursive, "stream": stream,
                                        "events": w.events}
                                       for (key, recursive, stream), w in
                                       zip(LIVE_WATCHERS, watchers)]}))
        for w in watchers:
            w.conn.sock.shutdown(socket.SHUT_RDWR)
            w.conn.close()
        time.sleep(0.5)
    print(json.dumps({"stats": stats(conn)}))


if __name__ == "__main__":
    main()
