"""Differential test machinery: run one named case against two servers and compare what was seen.

A case is a function case(ctx) that talks to one server through a Ctx. Every response it records
(ctx.req, ctx.raw, watch events, ctx.note) becomes masked text; the runner runs the case on the
reference and on the server under test at the same time (one thread each), then compares the texts
and the collected ttl values (tolerance 1). Unrecorded helpers (ctx.send, ctx.poll_until) set up
state and wait for it without adding to the comparison.

Against clusters a case runs on a Target: its requests go to one member and its watches to
another, so a watch sees writes made through a different member.
"""

import difflib
import json
import threading
import time
import traceback
import urllib.parse

import masking
import rawhttp

POLL_DEADLINE_SECONDS = 8.0
# Go writes the handler's headers sorted, then Date/Content-Length/Content-Type as it adds them;
# the order is compared unless the runner turns this on (--ignore-header-order).
IGNORE_HEADER_ORDER = False
FORM = "application/x-www-form-urlencoded"


def encode_form(form):
    """form: dict or list of pairs (values str), or a ready-made str. Returns the body str."""
    if isinstance(form, str):
        return form
    items = form.items() if isinstance(form, dict) else form
    return urllib.parse.urlencode(list(items))


class Target:
    """Where a case runs: `server` takes its requests, `watch_server` its watches (the same
    server unless testing a cluster), `roles` names the cluster's members in masked text.
    Immutable; the servers are owned by the runner."""

    def __init__(self, server, watch_server=None, roles=None):
        self.server = server
        self.watch_server = watch_server or server
        self.roles = roles
        self.binary = server.binary


class Watch:
    """A watch request whose response is read incrementally (one chunk = one event line)."""

    def __init__(self, ctx, target, label):
        self.ctx = ctx
        self.label = label
        if ctx.watch_port != ctx.port:
            ctx.sync_watch_member()
        self.conn = rawhttp.Connection(ctx.watch_port)
        self.conn.send(rawhttp.build_request("GET", target))
        # etcd flushes the head once the watcher is registered, so reading it orders the watch
        # before any write the case does next.
        self.head = self.conn.read_head(deadline=time.monotonic() + POLL_DEADLINE_SECONDS)
        ctx.record_response(f"{label} (head)", self.head, body_text=None)
        self.pending = b""
        self.ended = False

    def event(self, what="event", deadline_seconds=POLL_DEADLINE_SECONDS):
        """Reads and records the next event line (chunk boundaries are not compared: clients
        cannot see them); returns the parsed JSON, or None at the end of the body or timeout."""
        deadline = time.monotonic() + deadline_seconds
        while b"\n" not in self.pending and not self.ended:
            try:
                data = self.conn.read_chunk(deadline)
            except (TimeoutError, OSError, rawhttp.NoResponse) as err:
                self.ctx.note(f"{self.label} {what}", f"<no event: {type(err).__name__}>")
                return None
            self.ended = not data
            self.pending += data
        if b"\n" not in self.pending:
            rest, self.pending = self.pending, b""
            self.ctx.note(f"{self.label} {what}",
                          f"<end of body{'' if not rest else ' after ' + repr(rest)}>")
            return None
        line, self.pending = self.pending.split(b"\n", 1)
        self.ctx.note(f"{self.label} {what}", self.ctx.mask_body(line + b"\n", None))
        try:
            event = json.loads(line)
        except ValueError:
            return None
        self.ctx.saw_index(event.get("node", {}).get("modifiedIndex", 0))
        return event

    def close(self):
        self.conn.close()


class Ctx:
    """What a case sees of one server. Owned by one runner thread."""

    def __init__(self, target, reference=False):
        self.server = target.server
        self.reference = reference
        self.port = target.server.client_port
        self.watch_port = target.watch_server.client_port
        self.roles = target.roles
        if self.roles is None:
            self.masker = masking.Masker(self.server.client_port, self.server.peer_port)
        else:
            self.masker = masking.Masker(roles=self.roles)
        self.records = []
        self.conn = None
        self.watched_index = 0  # the highest index a watch on another member has shown
        self.synced_index = 0   # the request member is known to have applied this far

    # ---- recording -------------------------------------------------------------------------

    def note(self, label, text):
        self.records.append(f">>> {label}\n{text}")

    def mask_body(self, body, transform):
        text = body.decode("latin-1")
        if transform == "members":
            text = masking.sort_members(text, self.roles)
        elif transform == "machines":
            text = masking.sort_machines(text, self.masker)
        if self.roles is not None:
            text = self.masker.role_text(text)
        if transform == "unordered":
            text = masking.sort_nodes(text)
        elif transform == "shape":
            text = masking.shape(text)
        return masking.render_body(self.masker.text(text))

    def render_response(self, resp, body_text):
        masked_raw = resp.body.decode("latin-1")
        body_masked = body_text is not None and body_text != masked_raw
        if body_text is None or (resp.framing == "none" and resp.body == b""):
            # HEAD and watch heads: the absent body would carry index values whenever the
            # response carries a non-zero X-Etcd-Index, so its length is not comparable.
            body_masked = resp.header("X-Etcd-Index") not in (None, "0")
        headers = [f"{name}: {self.masker.header(name, value, body_masked)}"
                   for name, value in resp.headers]
        lines = [resp.status_line] + (sorted(headers) if IGNORE_HEADER_ORDER else headers)
        if body_masked and resp.header("Content-Length") is not None:
            ok = int(resp.header("Content-Length")) == len(resp.body)
            lines.append(f"(Content-Length matches body: {ok})")
        lines.append(f"(framing: {resp.framing})")
        if body_text is not None:
            lines.append(body_text)
        return "\n".join(lines)

    def record_response(self, label, resp, body_text):
        self.note(label, self.render_response(resp, body_text))

    # ---- requests --------------------------------------------------------------------------

    def _connection(self, fresh):
        if fresh:
            return rawhttp.Connection(self.port)
        if self.conn is None or self.conn.eof:
            self.conn = rawhttp.Connection(self.port)
        return self.conn

    def send(self, method, path, form=None, body=None, content_type=None, headers=None,
             version="HTTP/1.1", host="localhost", fresh=False):
        """Sends one request without recording it; returns the Response.

        A 500 from the reference is its raft giving up (after 7 s) on a disk stalled by the
        other tests of a CI run: "request timed out" from the keys API, "Internal Server Error"
        from the members API. That is not a behaviour to compare, so the request is sent again,
        up to twice. The server under test gets no second chance."""
        self.sync_request_member()
        if form is not None:
            body, content_type = encode_form(form), FORM
        for _ in range(2 if self.reference else 0):
            resp = self._send_once(method, path, body, content_type, headers, version, host,
                                   fresh)
            if resp.status != 500:
                return resp
        return self._send_once(method, path, body, content_type, headers, version, host, fresh)

    def _send_once(self, method, path, body, content_type, headers, version, host, fresh):
        conn = self._connection(fresh)
        try:
            resp = conn.request(method, path, body=body, content_type=content_type,
                                headers=headers, version=version, host=host)
        except rawhttp.NoResponse:
            if fresh or conn is not self.conn:
                raise
            self.conn = None   # a kept-alive connection may have been closed idle; retry once
            conn = self._connection(False)
            resp = conn.request(method, path, body=body, content_type=content_type,
                                headers=headers, version=version, host=host)
        if resp.header("Connection") == "close" or version == "HTTP/1.0":
            conn.close()
            if conn is self.conn:
                self.conn = None
        elif fresh:
            conn.close()
        return resp

    def req(self, method, path, label=None, transform=None, **kwargs):
        """Sends one request and records the masked response. transform: None, "unordered"
        (sort directory listings first) or "shape" (mask every scalar to its type)."""
        resp = self.send(method, path, **kwargs)
        if transform is None and self.roles is not None:
            transform = _CLUSTER_LISTINGS.get(path)
        body_text = self.mask_body(resp.body, transform)
        self.record_response(label or f"{method} {path}", resp, body_text)
        return resp

    def raw(self, data, label, responses=1, check_close=False):
        """Sends raw bytes on a fresh connection and records up to `responses` responses, or how
        the connection ended without one."""
        self.sync_request_member()
        with rawhttp.Connection(self.port, timeout=5) as conn:
            try:
                conn.send(data)
                for num in range(responses):
                    head_request = data.split(b"\r\n")[0].startswith(b"HEAD ") and num == 0
                    resp = conn.read_response(head_request=head_request)
                    self.record_response(f"{label} [{num}]", resp, self.mask_body(resp.body, None))
                if check_close:
                    self.note(f"{label} closed by server", str(conn.closed_by_peer()))
            except rawhttp.NoResponse as err:
                self.note(label, f"<no response: {err.kind}>")

    def watch(self, target, label=None):
        return Watch(self, target, label or f"watch {target}")

    # ---- helpers ---------------------------------------------------------------------------

    def json(self, method, path, **kwargs):
        return json.loads(self.send(method, path, **kwargs).body)

    def index(self):
        """The current X-Etcd-Index (from an unrecorded GET of the root)."""
        return int(self.send("GET", "/v2/keys/").header("X-Etcd-Index"))

    def sync_watch_member(self):
        """Waits (unrecorded) until the watch member has applied everything the request member
        has, so a watch placed there starts from the same store state the case just made."""
        wanted = self.index()
        with rawhttp.Connection(self.watch_port) as conn:
            def caught_up():
                resp = conn.request("GET", "/v2/keys/")
                return int(resp.header("X-Etcd-Index")) >= wanted
            self.poll_until(caught_up, f"watch member to reach index {wanted}")

    def saw_index(self, index):
        if self.watch_port != self.port and isinstance(index, int):
            self.watched_index = max(self.watched_index, index)

    def sync_request_member(self):
        """After a watch on another member showed an event (an expiry, say), waits (unrecorded)
        until the request member has applied it too, so the case's next request sees the state
        the watch reported, as it does on a single member."""
        if self.watched_index <= self.synced_index:
            return
        wanted = self.watched_index
        with rawhttp.Connection(self.port) as conn:
            def caught_up():
                resp = conn.request("GET", "/v2/keys/")
                return int(resp.header("X-Etcd-Index")) >= wanted
            self.poll_until(caught_up, f"request member to reach index {wanted}")
        self.synced_index = wanted

    def poll_until(self, predicate, what, deadline_seconds=POLL_DEADLINE_SECONDS):
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        self.note("poll timed out", what)
        return False

    def wait_gone(self, path):
        return self.poll_until(lambda: self.send("GET", path).status == 404, f"{path} to expire")

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


class Case:
    def __init__(self, name, func, ref_items=()):
        self.name = name
        self.func = func
        self.ref_items = ref_items


# Cluster listings whose order follows random ids or ports (see masking.sort_members).
_CLUSTER_LISTINGS = {"/v2/members": "members", "/v2/members/": "members",
                     "/v2/machines": "machines"}


def run_on(case, target, out, reference=False):
    ctx = Ctx(target if isinstance(target, Target) else Target(target), reference)
    try:
        case.func(ctx)
    except Exception:  # a crash in one case is recorded as that case's output
        ctx.note("exception", traceback.format_exc(limit=3).splitlines()[-1])
    finally:
        ctx.close()
    ctx.note("index order", ctx.masker.order_signature())
    out.append(ctx)


def compare(case, ref_server, test_server):
    """Runs the case on both servers concurrently; returns (ok, report text)."""
    results = {}
    threads = []
    for role, server in (("reference", ref_server), ("test", test_server)):
        out = []
        results[role] = out
        threads.append(threading.Thread(target=run_on,
                                        args=(case, server, out, role == "reference")))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ref, test = results["reference"][0], results["test"][0]
    ref_text = "\n".join(ref.records).splitlines()
    test_text = "\n".join(test.records).splitlines()
    problems = []
    if ref_text != test_text:
        problems.append("\n".join(difflib.unified_diff(
            ref_text, test_text, "reference", "under test", lineterm="", n=4)))
    if len(ref.masker.ttls) != len(test.masker.ttls) or any(
            abs(a - b) > 1 for a, b in zip(ref.masker.ttls, test.masker.ttls)):
        problems.append(f"ttl values differ by more than 1: reference {ref.masker.ttls} "
                        f"under test {test.masker.ttls}")
    report = [f"=== reference ({ref_server.binary})", *ref_text,
              f"=== under test ({test_server.binary})", *test_text,
              "=== diff", *problems]
    return not problems, "\n".join(report)


CASES = []


def case(name, items=()):
    """Decorator registering a case; items name the etcd-v2-behaviour.md entries it covers."""
    def register(func):
        assert all(c.name != name for c in CASES), f"duplicate case {name}"
        CASES.append(Case(name, func, items))
        return func
    return register
