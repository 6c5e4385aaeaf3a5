"""Turns responses into comparable text: index, time and id values masked, everything else kept.

A Masker belongs to one (case, server) pair. Index values (X-Etcd-Index, modifiedIndex,
createdIndex, index, the digits of in-order key names and the indexes inside error causes) become
ordinals in order of first appearance (I1, I2, ...), so two servers agree when their indexes have
the same equality pattern; order_signature() additionally states the numeric order and gaps. Raft
index/term and ids are reduced to "present and well-formed"; times likewise; ttl values are
collected and compared separately with a tolerance of 1 second.

Against a cluster (ClusterRoles), member ids, names and ports are named by the member's role
instead (L the leader, F1 and F2 the followers): two clusters draw different ids and ports, but
their roles line up, and a leader id must name the same role on both sides.
"""

import hashlib
import json
import re

BODY_TEXT_MAX = 64 * 1024

_DATE_RE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep"
                      r"|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
_RFC3339NANO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z$")
_MEMBER_ID_RE = re.compile(r"^[1-9a-f][0-9a-f]{0,15}$")
_INDEX_FIELD_RE = re.compile(r'"(modifiedIndex|createdIndex|index)":(\d+)')
_INORDER_KEY_RE = re.compile(r'(?<=/)(\d{20})(?=["/\]\) ]|$)')
# etcd writes "ttl" right after "expiration" and leaves it out when it is 0, which it is for a
# node whose expiration lies less than a second in the past or the future: whether the field is
# there depends on milliseconds of load, so a missing ttl beside an expiration counts as ttl 0.
_EXPIRATION_RE = re.compile(r'"expiration":"([^"]*)"(?:,"ttl":(-?\d+))?')
_TTL_RE = re.compile(r'"ttl":(-?\d+)')
_CAUSE_RE = re.compile(r'"cause":"((?:[^"\\]|\\.)*)"')
_CAUSE_INDEXES_RE = re.compile(r"\[(\d+)/(\d+)\]|\[(\d+) != (\d+)\]|(?<= )\[(\d+)\]$")
_ID_FIELD_RE = re.compile(r'"(id|leader)":"([^"]*)"')

# Headers whose values are masked; every other header is compared by exact value.
_INDEX_HEADERS = {"x-etcd-index"}
_PRESENCE_NUMBER_HEADERS = {"x-raft-index", "x-raft-term"}


class ClusterRoles:
    """The members of one cluster by role: label ("L", "F1", "F2") -> (id, name, client port,
    peer port). Immutable once built; shared by the maskers of one run, so a role's label stays
    the same for the whole run."""

    def __init__(self, members):
        self.members = dict(members)
        self.labels_by_id = {m[0]: label for label, m in self.members.items()}
        self.labels_by_name = {m[1]: label for label, m in self.members.items()}


_QUOTED_HEX_RE = re.compile(r'"([0-9a-f]{1,16})"')
_NAME_FIELD_RE = re.compile(r'"name":"([^"]*)"')


class Masker:
    """Per (case, server) masking state. Not thread-safe; one per server thread."""

    def __init__(self, client_port=None, peer_port=None, roles=None):
        self.ordinals = {}
        self.ttls = []
        self.ports = {}
        self.roles = roles
        if client_port:
            self.ports[str(client_port)] = "<CLIENT_PORT>"
        if peer_port:
            self.ports[str(peer_port)] = "<PEER_PORT>"
        if roles is not None:
            for label, (_, _, client, peer) in roles.members.items():
                self.ports[str(client)] = f"<CLIENT_PORT {label}>"
                self.ports[str(peer)] = f"<PEER_PORT {label}>"

    def index(self, text):
        value = int(text)
        if value == 0:
            return "0"
        if value not in self.ordinals:
            self.ordinals[value] = len(self.ordinals) + 1
        return f"I{self.ordinals[value]}"

    def order_signature(self):
        """Distinct indexes by numeric order, with gaps: 'I1 +1 I2 +3 I3'."""
        values = sorted(self.ordinals)
        parts = []
        for pos, value in enumerate(values):
            if pos:
                parts.append(f"+{value - values[pos - 1]}")
            parts.append(f"I{self.ordinals[value]}")
        return " ".join(parts)

    def _expiration(self, match):
        time = match.group(1)
        masked = "<TIME>" if _RFC3339NANO_RE.match(time) else f"<BAD TIME {time}>"
        if match.group(2) == "0":  # etcd never writes it: keep it visible as a difference
            return f'"expiration":"{masked}","ttl":<EXPLICIT 0>'
        self.ttls.append(int(match.group(2)) if match.group(2) is not None else 0)
        return f'"expiration":"{masked}","ttl":<TTL>'

    def _ttl(self, match):
        self.ttls.append(int(match.group(1)))
        return '"ttl":<TTL>'

    def _cause(self, match):
        def one(m):
            if m.group(1) is not None:
                return f"[{self.index(m.group(1))}/{self.index(m.group(2))}]"
            if m.group(3) is not None:
                return f"[{self.index(m.group(3))} != {self.index(m.group(4))}]"
            return f"[{self.index(m.group(5))}]"
        return '"cause":"' + _CAUSE_INDEXES_RE.sub(one, match.group(1)) + '"'

    def text(self, text):
        """Masks a body or output text (str; bytes decoded as latin-1 by the caller)."""
        text = _CAUSE_RE.sub(self._cause, text)
        text = _INDEX_FIELD_RE.sub(lambda m: f'"{m.group(1)}":{self.index(m.group(2))}', text)
        text = _INORDER_KEY_RE.sub(lambda m: "{" + self.index(m.group(1)) + "}", text)
        text = _EXPIRATION_RE.sub(self._expiration, text)
        text = _TTL_RE.sub(self._ttl, text)  # a ttl without an expiration: a difference to show
        if self.roles is not None:
            text = self.role_text(text)
        text = _ID_FIELD_RE.sub(
            lambda m: m.group(0) if m.group(2).startswith("<ID ") else
            f'"{m.group(1)}":"<ID>"' if _MEMBER_ID_RE.match(m.group(2))
            else f'"{m.group(1)}":"<BAD ID {m.group(2)}>"', text)
        for port, name in self.ports.items():
            text = text.replace(f"127.0.0.1:{port}", f"127.0.0.1:{name}")
        return text

    def role_text(self, text):
        """Names the cluster's member ids (as values and as object keys, e.g. the followers of
        /v2/stats/leader) and member names by role."""
        text = _QUOTED_HEX_RE.sub(
            lambda m: f'"<ID {self.roles.labels_by_id[m.group(1)]}>"'
            if m.group(1) in self.roles.labels_by_id else m.group(0), text)
        return _NAME_FIELD_RE.sub(
            lambda m: f'"name":"<NAME {self.roles.labels_by_name[m.group(1)]}>"'
            if m.group(1) in self.roles.labels_by_name else m.group(0), text)

    def header(self, name, value, body_masked):
        lname = name.lower()
        if lname in _INDEX_HEADERS and value.isdigit():
            return self.index(value)
        if lname in _PRESENCE_NUMBER_HEADERS:
            return "<N>" if value.isdigit() else f"<BAD {value}>"
        if lname == "x-etcd-cluster-id":
            return "<ID>" if _MEMBER_ID_RE.match(value) else f"<BAD ID {value}>"
        if lname == "date":
            return "<DATE>" if _DATE_RE.match(value) else f"<BAD DATE {value}>"
        if lname == "content-length" and body_masked:
            return "<LEN>"
        return value


class _Object(list):
    """A JSON object as an ordered list of (name, value) pairs."""


def shape(text):
    """Masks every scalar of a JSON document to its type, keeping names, order and nesting.

    Used for /v2/stats/*, whose values (counters, times, rates) are per node and per moment.
    """
    keep = {"name", "state"}

    def walk(node, key=None):
        if isinstance(node, _Object):
            # /v2/stats/leader's "followers" is a Go map keyed by member id: encoding/json
            # writes it sorted by id, which differs between two clusters, so it is compared
            # sorted by the (role-masked) key.
            pairs = sorted(node) if key == "followers" else node
            return "{" + ",".join(f"{json.dumps(k)}:{walk(v, k)}" for k, v in pairs) + "}"
        if isinstance(node, list):
            return "[" + ",".join(walk(v) for v in node) + "]"
        if key in keep:
            return json.dumps(node)
        if isinstance(node, bool):
            return "<bool>"
        if isinstance(node, int):
            return "<int>"
        if isinstance(node, float):
            return "<float>"
        if isinstance(node, str):
            return "<str>"
        return json.dumps(node)

    try:
        doc = json.loads(text, object_pairs_hook=_Object)
    except ValueError:
        return text
    return walk(doc) + ("\n" if text.endswith("\n") else "")


def sort_nodes(text):
    """Canonicalises a JSON body whose directory listings are in random (map) order."""
    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value)
            if isinstance(node.get("nodes"), list):
                node["nodes"].sort(key=lambda n: n.get("key", ""))
        elif isinstance(node, list):
            for value in node:
                walk(value)
    try:
        doc = json.loads(text)
    except ValueError:
        return text
    walk(doc)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n<nodes sorted by test>"


def sort_members(text, roles):
    """A /v2/members listing from a cluster: etcd lists members by numeric id (random per
    cluster), so whether that holds is noted and the members are compared sorted by role."""
    try:
        doc = json.loads(text)
        members = doc["members"]
        ids = [int(m["id"], 16) for m in members]
    except (ValueError, KeyError, TypeError):
        return text
    members.sort(key=lambda m: roles.labels_by_id.get(m["id"], m["id"]))
    return (json.dumps(doc, separators=(",", ":"), ensure_ascii=False) +
            f"\n<members sorted by test; listed by id: {ids == sorted(ids)}>")


def sort_machines(text, masker):
    """/v2/machines from a cluster: etcd joins the client URLs sorted as strings, so their order
    follows the ports; whether they were sorted is noted and the masked URLs are sorted."""
    urls = text.split(", ")
    masked = sorted(masker.text(url) for url in urls)
    return ", ".join(masked) + f"\n<machines sorted by test; listed sorted: {urls == sorted(urls)}>"


def render_body(body_masked):
    """Display form of a masked body; bodies over 64 KiB are shown as length + digest."""
    if len(body_masked) > BODY_TEXT_MAX:
        digest = hashlib.sha256(body_masked.encode("latin-1")).hexdigest()
        return f"<{len(body_masked)} bytes sha256 {digest}>"
    return body_masked.encode("latin-1").decode("utf-8", "backslashreplace")
