"""Linearizability checker for per-key register histories of etcd v2 clients (Wing–Gong search with
memoization, as Porcupine does it).

A history is a list of Op records. Each key is an independent register, so the history is split by
key and each part is checked alone (a history is linearizable iff every key's part is).

Register model (the v2 operations the fault test uses); the state is the value or None (no key):
  write  PUT value=v                 ok: state := v
  cas    PUT prevValue=a value=b     ok: requires state == a, state := b
                                     fail (101 compare failed / 100 not found): requires state != a
  read   GET quorum=true             ok with value v (None = 100 not found): requires state == v
  delete DELETE                      ok: requires state != None, state := None
                                     fail (100 not found): requires state == None
An op whose outcome is unknown (timeout, connection reset after sending) may have taken effect at
any time after its invoke or never: its return time is infinity and its result unconstrained. An
unknown read has no effect and is dropped. An op known not to have happened (refused before
sending, or an error the server returns without applying) must be passed as result "fail" only
when the model's fail rule holds; otherwise leave it out of the history.

Search: a configuration is (set of linearized ops, register state). From a configuration, op o can
go next iff it is not linearized and no other unlinearized known op returned before o was invoked.
The search succeeds once every op with a known outcome is linearized (unknown ops left over are
placed after the end, where they change nothing observable). Configurations already seen are not
searched again, which keeps the search polynomial for the small concurrency of a test.

Two reductions keep histories with hundreds of unknown writes (a cut-off member failing every
request during a partition) tractable; both keep the verdict exact:
- A value that no read returned and no cas compared is indistinguishable from any other such value
  (the model only tests the state for equality with read values and cas prevs), so the search
  stores one placeholder for all such values of unknown ops, and configurations that differ only
  there coincide.
- Unknown ops with the same effect (kind, value after the above, prev) are interchangeable: if a
  linearization places one now and a twin later (or never), swapping them is also a linearization,
  as both stay candidates from their invoke on. So the search branches on the earliest only.

Not thread-safe; pure functions over plain data.
"""

import math
from dataclasses import dataclass, field

INF = math.inf
OK, FAIL, UNKNOWN = "ok", "fail", "unknown"


@dataclass
class Op:
    """One client operation. value: written value (write), new value (cas), value read (read, None
    when the key was not found). prev: the compared value (cas only)."""
    client: int
    kind: str          # "write", "cas", "read", "delete"
    key: str
    invoke: float
    ret: float         # INF when result is UNKNOWN
    result: str        # OK, FAIL or UNKNOWN
    value: object = None
    prev: object = None
    index: int = field(default=-1, compare=False)   # position in the original history

    def describe(self):
        ret = "inf" if self.ret == INF else f"{self.ret:.4f}"
        if self.kind == "write":
            what = f"write {self.value!r}"
        elif self.kind == "cas":
            what = f"cas {self.prev!r}->{self.value!r}"
        elif self.kind == "read":
            what = "read" + (f" -> {self.value!r}" if self.result == OK else "")
        else:
            what = "delete"
        return (f"#{self.index} client {self.client} {what} [{self.result}] "
                f"invoke {self.invoke:.4f} return {ret}")


UNOBSERVED = "<a value no read returned and no cas compared>"


def step(state, op, value=None):
    """The register model: returns (legal, next_state) for op applied to state. Unknown ops take
    the path of the op succeeding (not happening at all is covered by never linearizing it).
    value: what a write or cas stores instead of op.value (the search's UNOBSERVED placeholder)."""
    kind, result = op.kind, op.result
    stored = op.value if value is None else value
    if kind == "write":
        return True, stored
    if kind == "read":
        return state == op.value, state
    if kind == "cas":
        if result == FAIL:
            return state != op.prev, state
        return state == op.prev, stored
    if kind == "delete":
        if result == FAIL:
            return state is None, state
        return state is not None, None
    raise ValueError(f"unknown op kind {kind!r}")


class KeyResult:
    """The verdict for one key: ok, number of ops, and when not ok a readable explanation."""

    def __init__(self, key, ok, ops, explanation="", window=()):
        self.key = key
        self.ok = ok
        self.ops = ops
        self.explanation = explanation
        self.window = list(window)

    def __repr__(self):
        return f"<KeyResult {self.key} {'ok' if self.ok else 'NOT linearizable'} {self.ops} ops>"


def _prepare(ops):
    """Drops ops that cannot constrain anything, and orders the rest by invoke time."""
    kept = []
    for op in ops:
        if op.result == UNKNOWN:
            if op.kind == "read":
                continue
            op.ret = INF
        kept.append(op)
    kept.sort(key=lambda o: (o.invoke, o.ret))
    return kept


class _Search:
    """Depth-first search over configurations for one key's ops (sorted by invoke)."""

    def __init__(self, ops, initial, budget):
        self.ops = ops
        self.initial = initial
        self.budget = budget
        self.known = [i for i, op in enumerate(ops) if op.ret != INF]
        self.unknown = [i for i, op in enumerate(ops) if op.ret == INF]
        self.unknown_bits = 0
        for i in self.unknown:
            self.unknown_bits |= 1 << i
        self.all_known = 0
        for i in self.known:
            self.all_known |= 1 << i
        self.best = (-1, 0, initial)      # (known ops linearized, mask, state) deepest reached
        self.explored = 0
        observed = {initial} | {op.value for op in ops if op.kind == "read"}
        observed |= {op.prev for op in ops if op.kind == "cas"}
        # Known ops keep their values so that an explanation names the register's real content.
        self.stored = [op.value if op.ret != INF or op.value in observed else UNOBSERVED
                       for op in ops]
        # Unknown ops with the same effect share a class; candidates() offers the earliest only.
        classes = {}
        self.unknown_class = {i: classes.setdefault((ops[i].kind, self.stored[i], ops[i].prev),
                                                    len(classes)) for i in self.unknown}

    def candidates(self, mask):
        """Indices that may be linearized next from `mask`: invoked no later than the earliest
        return of any unlinearized op. Known ops are sorted by invoke, so their scan starts at
        the first unlinearized one and stops past that return; unknown ops (return infinity)
        never bound it and are scanned from their own list."""
        filled = mask | self.unknown_bits
        start = (~filled & (filled + 1)).bit_length() - 1
        min_ret = INF
        out = []
        ops = self.ops
        for i in range(start, len(ops)):
            op = ops[i]
            if op.invoke > min_ret:
                break
            if filled >> i & 1:
                continue
            out.append(i)
            if op.ret < min_ret:
                min_ret = op.ret
        offered = set()
        for i in self.unknown:
            if ops[i].invoke > min_ret:
                break
            if not mask >> i & 1 and self.unknown_class[i] not in offered:
                offered.add(self.unknown_class[i])
                out.append(i)
        return out

    def dominated(self, seen, mask, state):
        """True when an equal or better configuration was already searched: same known ops
        linearized, same state, and a subset of the unknown ops linearized. Unknown ops may stay
        unlinearized forever, so fewer of them used means at least as many ways to go on. Without
        this, every failing subtree is searched again for every subset of the pending unknown
        writes (each is always legal), which is exponential in their number."""
        key = (mask & self.all_known, state)
        used = mask & self.unknown_bits
        earlier = seen.setdefault(key, [])
        if any(prev & ~used == 0 for prev in earlier):
            return True
        earlier.append(used)
        return False

    def run(self):
        seen = {}
        stack = [(0, self.initial)]
        while stack:
            mask, state = stack.pop()
            if mask & self.all_known == self.all_known:
                return True
            if self.dominated(seen, mask, state):
                continue
            self.explored += 1
            if self.explored > self.budget:
                raise RuntimeError(f"search budget of {self.budget} configurations exhausted")
            done = bin(mask & self.all_known).count("1")
            if done > self.best[0]:
                self.best = (done, mask, state)
            candidates = self.candidates(mask)
            # A candidate that does not change the state (read, failed cas or delete) and is legal
            # now can go first without loss: whatever order works later works with it moved to
            # here (it is a candidate, and the state it sees is the same). No branching then.
            for i in candidates:
                op = self.ops[i]
                if op.kind == "read" or op.result == FAIL:
                    if step(state, op, self.stored[i])[0]:
                        candidates = [i]
                        break
            # Push in reverse so the earliest-invoked candidates are tried first.
            for i in reversed(candidates):
                legal, nxt = step(state, self.ops[i], self.stored[i])
                if legal:
                    stack.append((mask | 1 << i, nxt))
        return False


def _explain(key, ops, search):
    """Describes where the deepest partial linearization got stuck, with the window of ops that
    overlap the first op that could not be placed."""
    _, mask, _ = search.best
    stuck = min((i for i in search.known if not mask >> i & 1), key=lambda i: ops[i].ret)
    blocker = ops[stuck]
    lo = min([blocker.invoke] + [ops[i].invoke for i in search.candidates(mask)
                                 if ops[i].ret != INF])
    window = [op for op in ops if op.invoke <= blocker.ret and op.ret >= lo and
              (op.ret != INF or op.invoke >= lo - 1.0)]
    last_done = [op for i, op in enumerate(ops) if mask >> i & 1 and op.ret < lo]
    last_done.sort(key=lambda o: o.ret)
    lines = [f"key {key}: not linearizable. After linearizing {search.best[0]} of "
             f"{len(search.known)} ops with known outcome (the deepest the search got), the "
             f"register holds {search.best[2]!r} and this op cannot be placed next:",
             "  " + blocker.describe(),
             "ops completed just before the window:"]
    lines += ["  " + op.describe() for op in last_done[-3:]]
    lines.append("window (ops overlapping the stuck op):")
    lines += ["  " + op.describe() for op in window]
    return "\n".join(lines), window


def check_key(key, ops, initial=None, budget=2_000_000):
    """Checks one key's ops (any order) against the register model starting from `initial`."""
    ops = _prepare(ops)
    search = _Search(ops, initial, budget)
    try:
        if search.run():
            return KeyResult(key, True, len(ops))
    except RuntimeError as err:   # budget exhausted: undecided, reported as a failure
        return KeyResult(key, False, len(ops), f"key {key}: undecided: {err}")
    explanation, window = _explain(key, ops, search)
    return KeyResult(key, False, len(ops), explanation, window)


def check_history(history, initial=None, budget=2_000_000):
    """Checks a whole history, partitioned by key. Returns a list of KeyResult, one per key.
    initial: value every key starts with (None: absent), or a dict key -> value."""
    by_key = {}
    for index, op in enumerate(history):
        if op.index < 0:
            op.index = index
        by_key.setdefault(op.key, []).append(op)
    results = []
    for key in sorted(by_key):
        start = initial.get(key) if isinstance(initial, dict) else initial
        results.append(check_key(key, by_key[key], start, budget))
    return results
