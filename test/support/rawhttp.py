"""A raw-socket HTTP/1.x client that keeps every byte of the response visible.

Unlike urllib/http.client it never normalises anything: the status line, the header lines (name
case and order as sent) and the body bytes are kept, along with the framing that carried the body
(Content-Length, chunked with its chunk sizes, or read-to-EOF). Streaming watches are read one
chunk at a time with a deadline. One Connection is used by one thread.
"""

import socket
import time

DEFAULT_TIMEOUT_SECONDS = 10.0
HEADER_BYTES_MAX = 1 << 20


class NoResponse(Exception):
    """The server closed or reset the connection before a complete response arrived."""

    def __init__(self, kind, partial=b""):
        super().__init__(f"{kind} after {len(partial)} bytes")
        self.kind = kind          # "reset" or "eof"
        self.partial = partial


class Response:
    """One parsed response. headers is a list of (name, value) in arrival order."""

    def __init__(self, status_line, headers):
        self.status_line = status_line
        parts = status_line.split(" ", 2)
        self.version = parts[0]
        self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else -1
        self.headers = headers
        self.body = b""
        self.framing = "none"     # "length", "chunked", "eof" or "none"
        self.chunk_sizes = []

    def header(self, name):
        """The first value of header `name` (case-insensitive), or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_names(self):
        return [key for key, _ in self.headers]

    def __repr__(self):
        return f"<Response {self.status_line!r} {len(self.body)} bytes {self.framing}>"


def build_request(method, target, body=None, headers=None, version="HTTP/1.1", host="localhost",
                  content_type=None):
    """Builds request bytes. headers: list of (name, value) added after Host (None = no Host)."""
    lines = [f"{method} {target} {version}"]
    if host is not None:
        lines.append(f"Host: {host}")
    for name, value in headers or []:
        lines.append(f"{name}: {value}")
    if body is not None:
        if isinstance(body, str):
            body = body.encode()
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}")
        lines.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8", "surrogateescape")
    return head + (body or b"")


class Connection:
    """One TCP connection to 127.0.0.1:port; reads responses in order (keep-alive capable)."""

    def __init__(self, port, timeout=DEFAULT_TIMEOUT_SECONDS):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.eof = False
        self.timeout = timeout

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def send(self, data):
        try:
            self.sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError) as err:
            raise NoResponse("reset") from err

    def _fill(self, deadline=None):
        """Reads more bytes into buf. Returns False at EOF. Raises NoResponse on reset."""
        if self.eof:
            return False
        if deadline is not None:
            self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError as err:
            raise NoResponse("reset", self.buf) from err
        finally:
            if deadline is not None:
                self.sock.settimeout(self.timeout)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _read_until(self, marker, limit, deadline=None):
        while marker not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("header section too long")
            if not self._fill(deadline):
                raise NoResponse("eof", self.buf)
        head, self.buf = self.buf.split(marker, 1)
        return head

    def _read_exact(self, count):
        while len(self.buf) < count:
            if not self._fill():
                raise NoResponse("eof", self.buf)
        data, self.buf = self.buf[:count], self.buf[count:]
        return data

    def read_head(self, deadline=None):
        """Reads the status line and headers; the body is left unread."""
        head = self._read_until(b"\r\n\r\n", HEADER_BYTES_MAX, deadline).decode("latin-1")
        lines = head.split("\r\n")
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        return Response(lines[0], headers)

    def read_chunk(self, deadline=None):
        """Reads one chunk of a chunked body; returns its data (b"" for the last chunk)."""
        size_line = self._read_until(b"\r\n", 1024, deadline)
        size = int(size_line.split(b";")[0], 16)
        data = self._read_exact(size)
        if self._read_exact(2) != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        if size == 0:
            return b""
        return data

    def read_body(self, resp, head_request=False):
        if head_request or resp.status in (204, 304) or 100 <= resp.status < 200:
            return resp
        encoding = resp.header("Transfer-Encoding")
        length = resp.header("Content-Length")
        if encoding is not None and encoding.lower() == "chunked":
            resp.framing = "chunked"
            while True:
                data = self.read_chunk()
                resp.chunk_sizes.append(len(data))
                if not data:
                    break
                resp.body += data
        elif length is not None:
            resp.framing = "length"
            resp.body = self._read_exact(int(length))
        else:
            resp.framing = "eof"
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""
        return resp

    def read_response(self, head_request=False):
        return self.read_body(self.read_head(), head_request)

    def request(self, method, target, **kwargs):
        self.send(build_request(method, target, **kwargs))
        return self.read_response(head_request=(method == "HEAD"))

    def closed_by_peer(self, deadline_seconds=2.0):
        """True if the server closes the connection within the deadline (after any response)."""
        deadline = time.monotonic() + deadline_seconds
        try:
            while time.monotonic() < deadline:
                if not self._fill(deadline):
                    return True
        except NoResponse:
            return True
        except socket.timeout:
            return False
        return False
