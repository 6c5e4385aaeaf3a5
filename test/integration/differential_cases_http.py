"""HTTP-level cases: framing, malformed requests, keep-alive, and the non-keys endpoints."""

from difftest import case

K = "/v2/keys"


def raw_get(path, version="HTTP/1.1", extra=""):
    return f"GET {path} {version}\r\nHost: x\r\n{extra}\r\n".encode()


@case("malformed_requests", items=(14, 26))
def malformed(c):
    c.raw(b"GARBAGE\r\n\r\n", "garbage request line")
    c.raw(b"GET /v2/keys/\r\n\r\n", "request line without version")
    c.raw(b"GET /v2/keys/ HTTP/9.9\r\nHost: x\r\n\r\n", "unknown HTTP version")
    c.raw(b"GET " + b"/v2/keys/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
          "request line over 4 KiB")
    c.raw(b"GET /v2/keys/ HTTP/1.1\r\n\r\n", "HTTP/1.1 without Host", check_close=True)
    c.raw(b"GET /v2/keys/ HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n", "header without colon")
    c.raw(b"GET /v2/keys/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "two Host headers")
    c.raw(b"PUT /v2/keys/mal HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\n\r\nzz\r\nvalue=1\r\n0\r\n\r\n",
          "bad chunk size", check_close=True)
    c.raw(b"PUT /v2/keys/mal HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
          "bad Content-Length")
    c.raw(b"PUT /v2/keys/mal HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
          b"Content-Length: 6\r\n\r\nvalue=", "conflicting Content-Length")
    c.raw(b"GET /v2/keys/%zz HTTP/1.1\r\nHost: x\r\n\r\n", "bad escape in path")
    c.raw(b"GET /v2/keys/a b HTTP/1.1\r\nHost: x\r\n\r\n", "space in path")
    c.raw(b"GET v2/keys/ HTTP/1.1\r\nHost: x\r\n\r\n", "relative request target")
    c.raw(b"GET http://x/v2/keys/mal HTTP/1.1\r\nHost: x\r\n\r\n", "absolute-form target")
    c.raw(b"GET /v2/keys/mal HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n",
          "Expect on GET")


@case("request_body_framing", items=(14,))
def body_framing(c):
    p = f"{K}/bf"
    c.raw(b"PUT " + p.encode() + b"/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\n\r\n"
          b"4\r\nvalu\r\n5\r\ne=chu\r\n3\r\nnk!\r\n0\r\n\r\n", "chunked request body")
    c.raw(b"PUT " + p.encode() + b"/b HTTP/1.1\r\nHost: x\r\nContent-Length: 7\r\n"
          b"Content-Type: application/x-www-form-urlencoded\r\nExpect: 100-continue\r\n\r\n"
          b"value=e", "Expect: 100-continue", responses=2)
    c.req("GET", f"{p}?recursive=true&sorted=true")
    c.req("PUT", f"{p}/long", form={"value": "x" * 1900}, label="1.9 KiB body")
    c.req("PUT", f"{p}/long", form={"value": "x" * 2100}, label="over 2 KiB body: chunked")
    c.req("HEAD", f"{p}/long", label="HEAD of a chunked GET")
    c.req("DELETE", f"{p}?recursive=true")


@case("http10_and_keepalive", items=(14,))
def http10(c):
    p = f"{K}/h10"
    c.raw(raw_get("/version", "HTTP/1.0"), "HTTP/1.0 without Host", check_close=True)
    c.raw(f"PUT {p}/a HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\n"
          f"Content-Length: 7\r\n\r\nvalue=1".encode(), "HTTP/1.0 PUT", check_close=True)
    c.raw(raw_get(f"{p}/a", "HTTP/1.0", "Connection: keep-alive\r\n") * 2,
          "HTTP/1.0 keep-alive", responses=2)
    c.raw(raw_get(f"{p}/a") + raw_get(f"{p}/zz") + raw_get("/version") + raw_get("/health"),
          "pipelined keep-alive sequence", responses=4)
    c.raw(raw_get(f"{p}/a", extra="Connection: close\r\n") + raw_get(f"{p}/a"),
          "Connection: close honoured", responses=1, check_close=True)
    big = "PUT {0}/big HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"\
          "Content-Length: {1}\r\n\r\n{2}"
    body = "value=" + "y" * 3000
    c.raw(big.format(p, len(body), body).encode() + raw_get(f"{p}/big") + raw_get(f"{p}/a"),
          "keep-alive after chunked response", responses=3)
    c.raw(raw_get(f"{p}/nope") + raw_get(f"{p}/a?ttl=x") + raw_get("/nope"),
          "keep-alive after errors", responses=3)
    c.req("DELETE", f"{p}?recursive=true")


@case("version_health_machines", items=(1, 12))
def misc_endpoints(c):
    c.req("GET", "/version")
    c.req("HEAD", "/version")
    c.req("GET", "/health")
    c.req("HEAD", "/health")
    c.req("GET", "/health?serializable=true")
    c.req("GET", "/v2/machines")
    c.req("HEAD", "/v2/machines")
    c.req("GET", "/v2/keys", label="/v2/keys without slash", transform="unordered")


@case("members", items=(1, 11, 13, 33))
def members(c):
    c.req("GET", "/v2/members")
    c.req("GET", "/v2/members/")
    c.req("GET", "/v2/members/leader")
    c.req("HEAD", "/v2/members")
    c.req("GET", "/v2/members/abc", label="bad member id")
    c.req("DELETE", "/v2/members/abc", label="DELETE bad member id")
    c.req("DELETE", "/v2/members/1234", label="DELETE unknown member id")
    c.req("POST", "/v2/members", body="{}", content_type="application/json",
          label="POST member without peerURLs")
    c.req("POST", "/v2/members", body="not json", content_type="application/json",
          label="POST member with bad JSON")
    c.req("POST", "/v2/members", body='{"peerURLs":["http://127.0.0.1:1"]}',
          label="POST member without content type")
    c.req("PUT", "/v2/members/abc", body="{}", content_type="application/json",
          label="PUT bad member id")
    c.req("PATCH", "/v2/members", label="PATCH members")


@case("stats_shapes", items=(1, 33))
def stats(c):
    # In a cluster, /v2/stats/self shows append rates only when appends flowed within the last
    # second: a write first makes that so on both sides (a lone member has no rates either way).
    c.send("PUT", f"{K}/stats_traffic", form={"value": "x"})
    c.send("DELETE", f"{K}/stats_traffic")
    c.req("GET", "/v2/stats/self", transform="shape")
    c.req("GET", "/v2/stats/leader", transform="shape")
    c.req("GET", "/v2/stats/store", transform="shape")
    c.req("HEAD", "/v2/stats/self")
    c.req("POST", "/v2/stats/store", label="POST stats/store")


METRICS_REQUIRED = ("etcd_server_has_leader", "etcd_server_is_leader",
                    "etcd_server_proposals_committed_total", "etcd_server_proposals_applied_total",
                    "etcd_server_proposals_failed_total", "etcd_server_proposals_pending",
                    "etcd_server_leader_changes_seen_total", "process_start_time_seconds")


@case("metrics_format")
def metrics(c):
    """Metric sets differ by implementation, so only the format and a few names every etcd
    dashboard and alert rule uses are compared, with their TYPE lines."""
    resp = c.send("GET", "/metrics")
    c.note("status", resp.status_line)
    c.note("content type", str(resp.header("Content-Type")))
    text = resp.body.decode("utf-8", "replace")
    bad = [line for line in text.splitlines() if line and not line.startswith("#") and
           len(line.rsplit(" ", 1)) != 2]
    c.note("lines that are not 'name[{labels}] value'", repr(bad[:3]))
    for name in METRICS_REQUIRED:
        type_line = next((line.split(" ", 3)[3] for line in text.splitlines()
                          if line.startswith(f"# TYPE {name} ")), "<missing>")
        samples = [line.split(" ")[-1] for line in text.splitlines()
                   if line.startswith(name + " ") or line.startswith(name + "{")]
        shown = samples[0] if name in ("etcd_server_has_leader", "etcd_server_is_leader") and \
            samples else ("<present>" if samples else "<missing>")
        c.note(f"metric {name}", f"type {type_line}, sample {shown}")
