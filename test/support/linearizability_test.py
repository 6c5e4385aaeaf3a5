#!/usr/bin/python3
"""Unit tests of linearizability.py with hand-made histories whose verdict is known.

Times are small integers; each helper builds one Op. A history that must fail is checked for the
key and the stuck op the explanation names, so a checker that accepts everything (or rejects
everything) fails here.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linearizability as lin  # noqa: E402
from linearizability import FAIL, INF, OK, UNKNOWN, Op  # noqa: E402


def w(client, invoke, ret, value, result=OK, key="k"):
    return Op(client, "write", key, invoke, INF if result == UNKNOWN else ret, result, value)


def cas(client, invoke, ret, prev, value, result=OK, key="k"):
    return Op(client, "cas", key, invoke, INF if result == UNKNOWN else ret, result, value, prev)


def r(client, invoke, ret, value, result=OK, key="k"):
    return Op(client, "read", key, invoke, ret, result, value)


def d(client, invoke, ret, result=OK, key="k"):
    return Op(client, "delete", key, invoke, ret, result)


def verdict(history, initial=None):
    results = lin.check_history(history, initial)
    return all(res.ok for res in results), results


class Linearizable(unittest.TestCase):
    def assert_ok(self, history, initial=None):
        ok, results = verdict(history, initial)
        self.assertTrue(ok, "\n".join(res.explanation for res in results if not res.ok))

    def test_sequential(self):
        self.assert_ok([w(0, 0, 1, "a"), r(1, 2, 3, "a"), cas(0, 4, 5, "a", "b"), r(1, 6, 7, "b"),
                        cas(1, 8, 9, "a", "c", FAIL), r(0, 10, 11, "b")])

    def test_read_of_missing_key(self):
        self.assert_ok([r(0, 0, 1, None), w(1, 2, 3, "a"), d(0, 4, 5), r(1, 6, 7, None),
                        d(0, 8, 9, FAIL)])

    def test_concurrent_reads_may_see_either_side(self):
        # The write overlaps both reads: one sees old, one sees new, in that order.
        self.assert_ok([w(0, 0, 10, "b"), r(1, 1, 2, "a"), r(2, 3, 4, "b")], initial="a")

    def test_concurrent_order_differs_from_invoke_order(self):
        # Writes overlap; the later-invoked one is linearized first.
        self.assert_ok([w(0, 0, 10, "x"), w(1, 1, 5, "y"), r(2, 11, 12, "y")])

    def test_unknown_write_that_happened(self):
        # The timed-out write is seen by a read long after.
        self.assert_ok([w(0, 0, 0, "a", UNKNOWN), r(1, 100, 101, "a")])

    def test_unknown_write_that_never_happened(self):
        self.assert_ok([w(0, 0, 1, "a"), w(1, 2, 0, "b", UNKNOWN), r(0, 10, 11, "a"),
                        r(1, 12, 13, "a")])

    def test_unknown_write_applied_late(self):
        # Unknown ops take effect at any time after invoke: here after the first read.
        self.assert_ok([w(0, 0, 1, "a"), w(1, 2, 0, "b", UNKNOWN), r(0, 10, 11, "a"),
                        r(0, 12, 13, "b")])

    def test_unknown_cas_and_unknown_read(self):
        self.assert_ok([w(0, 0, 1, "a"), cas(1, 2, 0, "a", "b", UNKNOWN),
                        r(2, 3, 0, "zzz", UNKNOWN),
                        cas(0, 5, 6, "b", "c"), r(0, 7, 8, "c")])

    def test_keys_are_independent(self):
        self.assert_ok([w(0, 0, 1, "a", key="x"), w(0, 2, 3, "a", key="y"),
                        r(1, 4, 5, "a", key="x"), r(1, 6, 7, "a", key="y")])

    def test_many_concurrent_clients(self):
        # 8 clients x 50 rounds: each round every client writes its own value concurrently, then
        # all read the same winner. Exercises the memoization (8! orders per round otherwise).
        history, t = [], 0
        for rnd in range(50):
            for c in range(8):
                history.append(w(c, t + c, t + 20 + c, f"v{rnd}-{c}"))
            winner = f"v{rnd}-{rnd % 8}"
            for c in range(8):
                history.append(r(c, t + 30 + c, t + 40, winner))
            t += 50
        self.assert_ok(history)

    def test_twin_unknown_writes_can_both_happen(self):
        # Two clients' timed-out writes of the same value: one explains each sighting of b.
        self.assert_ok([w(0, 0, 0, "b", UNKNOWN), w(2, 1, 0, "b", UNKNOWN), r(1, 5, 6, "b"),
                        w(1, 7, 8, "c"), r(1, 9, 10, "b")])

    def test_many_unknown_writes_within_a_small_budget(self):
        # A cut-off member fails every request of a partition: 60 writes with unknown outcome whose
        # values nobody reads, then a failed cas that only one of them explains. Without merging
        # their unobserved values and twin ops the search tries every subset of them.
        history = [w(0, 0, 1, "a")]
        history += [w(1 + c % 8, 2 + c, 0, f"lost{c}", UNKNOWN) for c in range(60)]
        history += [cas(0, 70, 71, "a", "b", FAIL), w(0, 72, 73, "c"), r(1, 74, 75, "c")]
        results = lin.check_history(history, budget=2_000)
        self.assertTrue(all(res.ok for res in results), results[0].explanation)


class NotLinearizable(unittest.TestCase):
    def assert_bad(self, history, stuck_index, initial=None):
        ok, results = verdict(history, initial)
        self.assertFalse(ok, "accepted a non-linearizable history")
        bad = [res for res in results if not res.ok]
        self.assertEqual(len(bad), 1)
        self.assertIn(f"#{stuck_index} ", bad[0].explanation.splitlines()[1])
        self.assertTrue(any(op.index == stuck_index for op in bad[0].window))
        return bad[0]

    def test_stale_read(self):
        # The write of b completed before the read began, yet the read returns a.
        bad = self.assert_bad([w(0, 0, 1, "a"), w(0, 2, 3, "b"), r(1, 4, 5, "a")], 2)
        self.assertIn("register holds 'b'", bad.explanation)

    def test_stale_read_of_deleted_key(self):
        self.assert_bad([w(0, 0, 1, "a"), d(0, 2, 3), r(1, 4, 5, "a")], 2)

    def test_read_goes_back_in_time(self):
        # Both reads overlap the write, but once b was seen a later read cannot see a.
        self.assert_bad([w(0, 0, 100, "b"), r(1, 1, 2, "b"), r(2, 3, 4, "a")], 2, initial="a")

    def test_lost_write(self):
        # An acknowledged write vanishes: the final read sees the value before it.
        self.assert_bad([w(0, 0, 1, "a"), w(1, 2, 3, "b"), r(2, 10, 11, "a")], 2)

    def test_read_of_value_never_written(self):
        self.assert_bad([w(0, 0, 1, "a"), r(1, 2, 3, "ghost")], 1)

    def test_cas_succeeds_on_wrong_value(self):
        self.assert_bad([w(0, 0, 1, "a"), cas(1, 2, 3, "x", "b")], 1)

    def test_cas_fails_on_matching_value(self):
        self.assert_bad([w(0, 0, 1, "a"), cas(1, 2, 3, "a", "b", FAIL)], 1)

    def test_two_cas_from_same_value_both_succeed(self):
        # Concurrent CAS a->b and a->c may not both succeed.
        self.assert_bad([w(0, 0, 1, "a"), cas(1, 2, 10, "a", "b"), cas(2, 3, 11, "a", "c")], 2)

    def test_unknown_write_cannot_take_effect_before_invoke(self):
        # The read returns b before the unknown write of b was even invoked.
        self.assert_bad([w(0, 0, 1, "a"), r(1, 2, 3, "b"), w(2, 5, 0, "b", UNKNOWN)], 1)

    def test_unknown_write_cannot_happen_twice(self):
        # b appears, is overwritten by c, then appears again: one write of b cannot do that.
        self.assert_bad([w(0, 0, 0, "b", UNKNOWN), r(1, 5, 6, "b"), w(1, 7, 8, "c"),
                         r(1, 9, 10, "b")], 3)

    def test_exhausted_budget_is_a_failure_not_a_pass(self):
        history = [w(c, 0, 10, f"v{c}") for c in range(6)] + [r(0, 11, 12, "v3")]
        results = lin.check_history(history, budget=3)
        self.assertFalse(results[0].ok)
        self.assertIn("undecided", results[0].explanation)

    def test_stale_read_among_many_unknown_writes_is_decided(self):
        # As above, but a read later returns a value overwritten before it began: the verdict
        # must be "not linearizable", not an exhausted budget.
        history = [w(0, 0, 1, "a")]
        history += [w(1 + c % 8, 2 + c, 0, f"lost{c}", UNKNOWN) for c in range(60)]
        history += [w(0, 70, 71, "c"), w(0, 72, 73, "d"), r(1, 74, 75, "c")]
        results = lin.check_history(history, budget=2_000)
        self.assertFalse(results[0].ok)
        self.assertIn("not linearizable", results[0].explanation)
        self.assertIn(f"#{len(history) - 1} ", results[0].explanation.splitlines()[1])

    def test_one_bad_key_among_good(self):
        bad = self.assert_bad([w(0, 0, 1, "a", key="good"), r(1, 2, 3, "a", key="good"),
                               w(0, 0, 1, "a", key="bad"), w(0, 2, 3, "b", key="bad"),
                               r(1, 4, 5, "a", key="bad")], 4)
        self.assertEqual(bad.key, "bad")


if __name__ == "__main__":
    unittest.main(verbosity=1)
