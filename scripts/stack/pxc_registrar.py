#!/usr/bin/python3
"""Registers one Galera node in discovery with the requests a Percona XtraDB Cluster container
sends (/work/shared/reference/pxc-discovery-requests.md), for the local stack's MariaDB nodes.

Once at start (the entrypoint, section A): POST the node's address into the in-order queue
/pxc-cluster/queue/<cluster> (ttl 60), list the queue, PUT <cluster>/<ipaddr>/ipaddr and
/hostname (ttl 30), refresh the <ipaddr> dir's ttl (dir=true, prevExist=true), list
<cluster>/?quorum=true and compute CLUSTER_JOIN the way the entrypoint does (logged: on loopback
the nodes' gcomm addresses come from their my.cnf, since every node shares one IP).
Then forever, every 5 seconds (clustercheckcron, section B): read wsrep_local_state and
wsrep_cluster_status; Primary and Synced (or donor, AVAILABLE_WHEN_DONOR=1) refreshes the three
keys, anything else (including a node that does not answer) deletes <cluster>/<ipaddr>/
recursively.

All nodes of the local stack share 127.0.0.1, so `ipaddr` is `127.0.0.1:<mysql port>`: sqlproxy's
discovery source reads a `host:port` member name as that address. Like curl in the entrypoint,
HTTP status codes are not checked and redirects are not followed; a refused connection moves on
to the next discovery endpoint (a Kubernetes Service would route to a live member).

Runs until SIGTERM. Logs one line per request outcome change to stdout.
"""

import argparse
import http.client
import json
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

LOOP_SECONDS = 5  # clustercheckcron's `sleep 5`
REQUEST_TIMEOUT_SECONDS = 5
SQL_TIMEOUT_SECONDS = 10
MARIADB = "/usr/bin/mariadb"


class Discovery:
    """HTTP requests to the first discovery endpoint that accepts a connection."""

    def __init__(self, endpoints):
        self.endpoints = endpoints  # ["127.0.0.1:2379", ...]

    def request(self, method, path, form=None):
        """Returns (status, parsed JSON body or None); (0, None) when no endpoint answered."""
        body = urllib.parse.urlencode(form).encode() if form is not None else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        for endpoint in self.endpoints:
            host, port = endpoint.rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=REQUEST_TIMEOUT_SECONDS)
            try:
                conn.request(method, "/v2/keys" + path, body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
            except OSError:
                continue
            finally:
                conn.close()
            try:
                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, None
        return 0, None


def log(message):
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def entrypoint(discovery, cluster, ipaddr, hostname):
    """Section A of the reference; returns CLUSTER_JOIN (comma-separated, may be empty)."""
    discovery.request("POST", f"/pxc-cluster/queue/{cluster}", {"value": ipaddr, "ttl": 60})
    _, listing = discovery.request("GET", f"/pxc-cluster/queue/{cluster}")
    queued = [n.get("value", "") for n in ((listing or {}).get("node") or {}).get("nodes", [])]
    i1 = [v for v in queued if v != ipaddr]
    register(discovery, cluster, ipaddr, hostname)
    _, members = discovery.request("GET", f"/pxc-cluster/{cluster}/?quorum=true")
    keys = [n.get("key", "") for n in ((members or {}).get("node") or {}).get("nodes", [])]
    i2 = [k.rsplit("/", 1)[-1] for k in keys if k.rsplit("/", 1)[-1] != ipaddr]
    return ",".join(i1 + i2)


def register(discovery, cluster, ipaddr, hostname):
    base = f"/pxc-cluster/{cluster}/{ipaddr}"
    s1, _ = discovery.request("PUT", f"{base}/ipaddr", {"value": ipaddr, "ttl": 30})
    s2, _ = discovery.request("PUT", f"{base}/hostname", {"value": hostname, "ttl": 30})
    s3, _ = discovery.request("PUT", base, {"ttl": 30, "dir": "true", "prevExist": "true"})
    return (s1, s2, s3)


def deregister(discovery, cluster, ipaddr):
    status, _ = discovery.request("DELETE", f"/pxc-cluster/{cluster}/{ipaddr}/?recursive=true")
    return status


def wsrep_state(args, password):
    """(wsrep_local_state, wsrep_cluster_status) as strings; ("", "") when the node does not
    answer (clustercheckcron then deletes the registration)."""
    cmd = [MARIADB, "--no-defaults", f"--host={args.host}", f"--port={args.port}",
           f"--user={args.user}", "--batch", "--skip-column-names", "--connect-timeout=5",
           "-e", "SHOW GLOBAL STATUS LIKE 'wsrep_%'"]
    env = {"MYSQL_PWD": password, "PATH": "/usr/bin:/bin"}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False,
                              timeout=SQL_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        return "", ""
    if done.returncode != 0:
        return "", ""
    status = dict(line.split("\t", 1) for line in done.stdout.splitlines() if "\t" in line)
    return status.get("wsrep_local_state", ""), status.get("wsrep_cluster_status", "")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--discovery", required=True,
                        help="comma-separated host:port list (DISCOVERY_SERVICE)")
    parser.add_argument("--cluster", required=True, help="CLUSTER_NAME")
    parser.add_argument("--ipaddr", required=True, help="the node's name in discovery")
    parser.add_argument("--hostname", required=True)
    parser.add_argument("--host", default="127.0.0.1", help="the node's MySQL host")
    parser.add_argument("--port", type=int, required=True, help="the node's MySQL port")
    parser.add_argument("--user", default="monitor")
    parser.add_argument("--password-file", required=True)
    args = parser.parse_args()
    with open(args.password_file) as f:
        password = f.read().strip()

    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    discovery = Discovery(args.discovery.split(","))

    join = entrypoint(discovery, args.cluster, args.ipaddr, args.hostname)
    log(f"entrypoint: registered {args.ipaddr}; CLUSTER_JOIN={join!r}")
    last = None
    while not stopping.is_set():
        state, cluster_status = wsrep_state(args, password)
        healthy = cluster_status == "Primary" and state in ("4", "2")
        if healthy:
            outcome = ("registered", register(discovery, args.cluster, args.ipaddr,
                                              args.hostname))
        else:
            outcome = ("deregistered", deregister(discovery, args.cluster, args.ipaddr))
        summary = (outcome[0], state, cluster_status)
        if summary != last:
            log(f"{outcome[0]} (wsrep_local_state={state or '-'} "
                f"wsrep_cluster_status={cluster_status or '-'}; http {outcome[1]})")
            last = summary
        stopping.wait(LOOP_SECONDS)
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
