#!/usr/bin/python3
"""A deliberately wrong server, to prove the differential tests notice differences.

Takes etcd's flags like the real servers. Starts the real binary ($PERTURB_BIN, default etcd) on
a private client port and relays the advertised client port to it, changing the responses as
$PERTURB says:
  byte    the first '"createdIndex"' of each response becomes '"createdIndez"' (same length)
  header  drops the X-Raft-Term header line
  index   adds 1 to every X-Etcd-Index header value (an off-by-one index bug)
  wipe    relays unchanged but deletes --data-dir before every start (loses every write)
  none    relays unchanged
The child dies with this process (PR_SET_PDEATHSIG), so killing this PID stops both.
"""

import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import servers  # noqa: E402

MODE = os.environ.get("PERTURB", "byte")


def perturb(data):
    if MODE == "byte":
        return data.replace(b'"createdIndex"', b'"createdIndez"', 1)
    if MODE == "header":
        return re.sub(rb"X-Raft-Term: \d+\r\n", b"", data)
    if MODE == "index":
        return re.sub(rb"X-Etcd-Index: (\d+)",
                      lambda m: b"X-Etcd-Index: " + str(int(m.group(1)) + 1).encode(), data)
    return data


def pipe(src, dst, change):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(change(data) if change else data)
    except ConnectionResetError:
        # Pass a reset on as a reset (SO_LINGER 0 makes close() send RST).
        dst.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        dst.close()
        return
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def main():
    args = sys.argv[1:]
    url = args[args.index("--listen-client-urls") + 1]
    port = int(url.rsplit(":", 1)[1])
    inner = servers.free_port()
    args[args.index("--listen-client-urls") + 1] = f"http://127.0.0.1:{inner}"
    if MODE == "wipe":
        shutil.rmtree(args[args.index("--data-dir") + 1], ignore_errors=True)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    child = subprocess.Popen([os.environ.get("PERTURB_BIN", "etcd")] + args,
                             preexec_fn=lambda: libc.prctl(1, signal.SIGKILL))
    signal.signal(signal.SIGTERM, lambda *_: (child.terminate(), child.wait(), os._exit(0)))
    listener = socket.create_server(("127.0.0.1", port))
    while True:
        client, _ = listener.accept()
        try:
            upstream = socket.create_connection(("127.0.0.1", inner))
        except OSError:
            client.close()
            continue
        threading.Thread(target=pipe, args=(client, upstream, None), daemon=True).start()
        threading.Thread(target=pipe, args=(upstream, client, perturb), daemon=True).start()


if __name__ == "__main__":
    main()
