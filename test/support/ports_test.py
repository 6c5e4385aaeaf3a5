#!/usr/bin/python3
"""Unit tests of ports.py: ports held by another process, or listened on, are never handed out,
and none comes from the kernel's ephemeral range."""

import os
import socket
import subprocess
import sys
import unittest
from unittest import mock

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ports  # noqa: E402

# Takes argv[4] ports from [argv[2], argv[3]) and holds them until its stdin closes.
HOLDER = """
import sys
from unittest import mock
sys.path.insert(0, sys.argv[1])
import ports
mock.patch.object(ports, "_port_range", return_value=(int(sys.argv[2]), int(sys.argv[3]))).start()
print(" ".join(str(ports.free_port()) for _ in range(int(sys.argv[4]))), flush=True)
sys.stdin.read()
"""


class PortsTest(unittest.TestCase):
    def test_ports_held_by_another_process_are_not_handed_out(self):
        # A narrow range, so that both processes are sure to try each other's ports.
        with mock.patch.object(ports, "_port_range", return_value=(24000, 24040)):
            holder = subprocess.Popen([sys.executable, "-c", HOLDER, HERE, "24000", "24040", "20"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            try:
                theirs = {int(p) for p in holder.stdout.readline().split()}
                mine = {ports.free_port() for _ in range(15)}
            finally:
                holder.stdin.close()
                holder.wait(timeout=10)
                holder.stdout.close()
        self.assertEqual(len(theirs), 20)
        self.assertEqual(len(mine), 15)
        self.assertEqual(theirs & mine, set())
        self.assertTrue(all(24000 <= p < 24040 for p in theirs | mine))

    def test_a_port_with_a_listener_is_not_handed_out(self):
        port = ports.free_port()
        os.close(ports._held.pop())  # no longer ours: only the listener keeps it from being chosen
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen()
            with mock.patch.object(ports, "_port_range", return_value=(port, port + 1)):
                with self.assertRaises(RuntimeError):
                    ports.free_port()

    def test_ports_are_outside_the_ephemeral_range(self):
        low, high = ports._ephemeral_range()
        for port in (ports.free_port() for _ in range(20)):
            self.assertFalse(low <= port <= high, port)


if __name__ == "__main__":
    unittest.main()
