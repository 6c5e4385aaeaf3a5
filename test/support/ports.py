"""Ports for the servers a test starts.

Asking the kernel for a free port (bind to port 0, close, hand the number to a server) races:
the number comes from the ephemeral range, the same range every outgoing connection on the
machine takes its local port from, and tests that run alongside open many. One of them can take
the port before the server binds it ("address already in use"). So ports come from below the
ephemeral range, where no connection's local port lands, and each is held by a lock file for as
long as the test process lives, so two tests never pick the same one.
"""

import fcntl
import os
import random
import socket
import tempfile

FIRST_PORT = 20000
LOCK_DIR = os.path.join(tempfile.gettempdir(), f"test-ports-{os.getuid()}")

_held = []  # descriptors of the lock files: a port stays this process's until it exits


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def _port_range():
    low, high = _ephemeral_range()
    if low - FIRST_PORT >= 1000:
        return FIRST_PORT, low
    if 65535 - high >= 1000:
        return high + 1, 65536
    raise RuntimeError(f"no port range outside the ephemeral range {low}-{high}")


def _bindable(port):
    # As the servers bind (SO_REUSEADDR, so a port in TIME_WAIT counts as free).
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port():
    """A TCP port on 127.0.0.1 that no other test holds and nothing listens on, outside the
    kernel's ephemeral range; it stays reserved for this process."""
    os.makedirs(LOCK_DIR, exist_ok=True)
    first, end = _port_range()
    for _ in range(2000):
        port = random.randrange(first, end)
        lock = os.open(os.path.join(LOCK_DIR, str(port)), os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC,
                       0o644)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(lock)
            continue
        if not _bindable(port):
            os.close(lock)
            continue
        _held.append(lock)
        return port
    raise RuntimeError(f"no free port found in {first}-{end - 1}")
