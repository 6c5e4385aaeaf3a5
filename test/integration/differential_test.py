#!/usr/bin/python3
"""Differential test: the same scripted v2 requests against etcd 3.4 and the server under test.

Usage: differential_test.py [--server BIN] [--reference BIN] [-k SUBSTRING] [--list] [-v]
                            [--ignore-header-order]
  --server     server under test ($DISCOVERY_BIN, default build/bin/discovery)
  --reference  reference server ($REFERENCE_BIN, default etcd)
Each side runs as a fresh single member on 127.0.0.1 with free ports. Every case prints PASS or
FAIL; a failure prints both masked transcripts and their diff. The last line is "N passed, M failed"
and the exit status is non-zero when anything failed.
"""

import argparse
import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "support"))
sys.path.insert(0, HERE)

import difftest  # noqa: E402
import servers  # noqa: E402
import differential_cases_keys  # noqa: E402,F401  (registers cases)
import differential_cases_watch  # noqa: E402,F401
import differential_cases_http  # noqa: E402,F401
import differential_cases_pxc  # noqa: E402,F401


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", help="binary under test")
    parser.add_argument("--reference", help="reference binary")
    parser.add_argument("-k", dest="filter", default="", help="run cases whose name contains this")
    parser.add_argument("--list", action="store_true", help="list cases and exit")
    parser.add_argument("-v", action="store_true", help="print transcripts of passing cases too")
    parser.add_argument("--ignore-header-order", action="store_true",
                        help="compare header lines as a sorted set (default: in arrival order)")
    return parser.parse_args()


def start_both(ref_bin, test_bin):
    started = {}
    errors = []

    def start(role, binary):
        try:
            started[role] = servers.Server(binary).start()
        except Exception as err:  # reported below, after both attempts
            errors.append(f"{role}: {err}")

    threads = [threading.Thread(target=start, args=("reference", ref_bin)),
               threading.Thread(target=start, args=("test", test_bin))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        for server in started.values():
            server.cleanup()
        raise RuntimeError("; ".join(errors))
    return started["reference"], started["test"]


def main():
    args = parse_args()
    cases = [c for c in difftest.CASES if args.filter in c.name]
    difftest.IGNORE_HEADER_ORDER = args.ignore_header_order
    if args.list:
        for c in cases:
            items = ",".join(str(i) for i in c.ref_items)
            print(f"{c.name}" + (f"  [behaviour items {items}]" if items else ""))
        return 0
    ref_bin = servers.reference_bin(args.reference)
    test_bin = servers.discovery_bin(args.server)
    print(f"reference: {ref_bin}\nunder test: {test_bin}")
    ref, test = start_both(ref_bin, test_bin)
    passed = failed = 0
    started = time.monotonic()
    try:
        for c in cases:
            t0 = time.monotonic()
            ok, report = difftest.compare(c, ref, test)
            took = time.monotonic() - t0
            if ok:
                passed += 1
                print(f"PASS {c.name} ({took:.1f}s)" + (f"\n{report}\n" if args.v else ""))
            else:
                failed += 1
                print(f"FAIL {c.name} ({took:.1f}s)\n{report}\n")
            sys.stdout.flush()
    finally:
        ref.cleanup()
        test.cleanup()
    print(f"total {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
