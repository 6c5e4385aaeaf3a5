"""The request sequence of the Percona XtraDB Cluster entrypoint and clustercheckcron.

Source: /work/shared/reference/pxc-discovery-requests.md (sections A-C). curl ignores the
status and does not follow redirects, so the bodies and what jq extracts from them are what matter;
both are recorded. Listings are unsorted in etcd (map order), so they are compared sorted.
"""

import json

from difftest import case

CLUSTER = "percona"
NODES = (("10.1.0.11", "pxc-0"), ("10.1.0.12", "pxc-1"), ("10.1.0.13", "pxc-2"))
BASE = f"/v2/keys/pxc-cluster/{CLUSTER}"
QUEUE = f"/v2/keys/pxc-cluster/queue/{CLUSTER}"


def jq(body, path):
    """A jq subset for the two filters the entrypoint uses: '.node.nodes[].value' (fails when
    nodes is absent) and '.node.nodes[]?.key' (yields nothing then). Output lines, sorted."""
    try:
        doc = json.loads(body)
    except ValueError:
        return "jq: parse error"
    optional = path.endswith("[]?.key")
    field = path.rsplit(".", 1)[1]
    nodes = doc.get("node", {}).get("nodes") if isinstance(doc, dict) else None
    if nodes is None:
        return "" if optional else "jq: error: Cannot iterate over null"
    return "\n".join(sorted(str(n.get(field)) for n in nodes))


def entrypoint(c, ipaddr, hostname):
    """Section A, steps 1-6, as one container start."""
    c.req("POST", QUEUE, form={"value": ipaddr, "ttl": "60"}, label=f"{hostname}: A1 queue POST")
    resp = c.req("GET", QUEUE, transform="unordered", label=f"{hostname}: A2 queue GET")
    i1 = [ip for ip in jq(resp.body, ".node.nodes[].value").splitlines() if ip != ipaddr]
    c.req("PUT", f"{BASE}/{ipaddr}/ipaddr", form={"value": ipaddr, "ttl": "30"},
          label=f"{hostname}: A3 ipaddr")
    c.req("PUT", f"{BASE}/{ipaddr}/hostname", form={"value": hostname, "ttl": "30"},
          label=f"{hostname}: A4 hostname")
    c.req("PUT", f"{BASE}/{ipaddr}", form={"ttl": "30", "dir": "true", "prevExist": "true"},
          label=f"{hostname}: A5 dir ttl update")
    resp = c.req("GET", f"{BASE}/?quorum=true", transform="unordered",
                 label=f"{hostname}: A6 quorum GET with trailing slash")
    i2 = [k.rsplit("/", 1)[-1] for k in jq(resp.body, ".node.nodes[]?.key").splitlines()]
    i2 = [ip for ip in i2 if ip != ipaddr]
    c.note(f"{hostname}: cluster_join", ",".join(sorted(i1 + i2)))


def clustercheck_healthy(c, ipaddr, hostname):
    c.req("PUT", f"{BASE}/{ipaddr}/ipaddr", form={"value": ipaddr, "ttl": "30"},
          label=f"{hostname}: B ipaddr refresh")
    c.req("PUT", f"{BASE}/{ipaddr}/hostname", form={"value": hostname, "ttl": "30"},
          label=f"{hostname}: B hostname refresh")
    c.req("PUT", f"{BASE}/{ipaddr}", form={"ttl": "30", "dir": "true", "prevExist": "true"},
          label=f"{hostname}: B dir ttl refresh")


@case("pxc_entrypoint_and_clustercheck")
def pxc(c):
    c.req("GET", f"{BASE}/", label="cluster dir before anyone registered")
    c.req("PUT", f"{BASE}/10.9.9.9", form={"ttl": "30", "dir": "true", "prevExist": "true"},
          label="A5 before A3: 100")
    for ipaddr, hostname in NODES:
        entrypoint(c, ipaddr, hostname)
    for ipaddr, hostname in NODES:
        clustercheck_healthy(c, ipaddr, hostname)
    ipaddr, hostname = NODES[2]
    c.req("DELETE", f"{BASE}/{ipaddr}/?recursive=true", label="B unhealthy: DELETE member dir")
    c.req("DELETE", f"{BASE}/{ipaddr}/?recursive=true", label="B unhealthy again: 100")
    resp = c.req("GET", f"{BASE}/", transform="unordered", label="C proxysql GET")
    c.note("C proxysql nodes", jq(resp.body, ".node.nodes[]?.key"))
    c.req("HEAD", f"{BASE}/", label="C HEAD --fail on existing dir")
    c.req("HEAD", "/v2/keys/pxc-cluster/nocluster/", label="C HEAD --fail on missing dir")
    c.req("GET", f"{BASE}/?recursive=true", transform="unordered", label="C README recursive")
    c.req("PUT", "/v2/keys/pxc-cluster/pxc-seqno/10.1.0.11", form={"value": "1234"},
          label="C seqno PUT")
    resp = c.req("GET", "/v2/keys/pxc-cluster/pxc-seqno/?recursive=true", transform="unordered",
                 label="C seqno GET")
    c.note("C seqno values", jq(resp.body, ".node.nodes[].value"))
    c.req("DELETE", f"{BASE}?recursive=true", label="C README cleanup")
    c.req("GET", QUEUE, transform="unordered", label="queue still there")
    c.req("DELETE", "/v2/keys/pxc-cluster?recursive=true", label="test cleanup")


@case("pxc_member_dir_expiry")
def pxc_expiry(c):
    """A member that stops refreshing vanishes with its subtree when the dir's TTL runs out."""
    ipaddr, hostname = NODES[0]
    c.req("PUT", f"{BASE}/{ipaddr}/ipaddr", form={"value": ipaddr, "ttl": "30"})
    c.req("PUT", f"{BASE}/{ipaddr}/hostname", form={"value": hostname, "ttl": "30"})
    c.req("PUT", f"{BASE}/{ipaddr}", form={"ttl": "1", "dir": "true", "prevExist": "true"},
          label="dir ttl=1")
    c.wait_gone(f"{BASE}/{ipaddr}")
    resp = c.req("GET", f"{BASE}/?quorum=true", label="listing after the dir expired")
    c.note("jq keys", jq(resp.body, ".node.nodes[]?.key"))
    c.req("GET", f"{BASE}/{ipaddr}/ipaddr", label="child gone too")
    c.req("DELETE", "/v2/keys/pxc-cluster?recursive=true", label="test cleanup")


@case("pxc_liveness_probe")
def pxc_liveness(c):
    c.req("GET", "/", label="curl -s $DISCOVERY_SERVICE")
