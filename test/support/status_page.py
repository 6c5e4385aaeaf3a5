"""sqlproxy's status page (GET / on its admin port) as a browser shows it: headless Chromium
(Debian's `chromium`, scripts/install-deps test) loads the page, and the helpers read what it
rendered. Used by test/integration/status_page_test.py and the end-to-end stack test.

    import status_page
    dom = status_page.dump_dom("http://127.0.0.1:9000/")        # the DOM after load, as HTML
    status_page.writer_shown(dom)        # "127.0.0.1:3306", or "" when the page shows no writer
    status_page.backends_shown(dom)      # {"127.0.0.1:3306": "writable", ...}
    status_page.sessions_shown(dom)      # {"127.0.0.1:3306": (writer port, read-only port), ...}
    status_page.writer_changes_shown(dom)  # [("127.0.0.1:3306", "127.0.0.1:3307"), ...] newest first
    status_page.members_shown(dom)       # [{"name": "m1", "id": "...", "leader": True}, ...]
    status_page.screenshot("http://127.0.0.1:9000/", "build/screenshots/status-page.png")

Every Chromium run gets a fresh, empty profile directory (removed afterwards), runs with
--headless --no-sandbox --disable-gpu, and is bounded by `timeout` seconds; on timeout its whole
process group (started here, in a session of its own) is killed and ChromiumError raised.
`CHROMIUM` in the environment overrides the binary (default: `chromium` on PATH).

The readers parse the page's stable hooks (see sqlproxy/admin/status_page.h), not its layout, and
return the text unescaped.
"""

import html.parser
import os
import shutil
import signal
import subprocess
import tempfile

DEFAULT_TIMEOUT = 60.0
WINDOW_SIZE = (1280, 900)


class ChromiumError(RuntimeError):
    pass


def chromium_binary():
    """The Chromium to run: $CHROMIUM, else `chromium` on PATH; None when there is none."""
    return os.environ.get("CHROMIUM") or shutil.which("chromium")


def _run_chromium(args, timeout):
    binary = chromium_binary()
    if not binary:
        raise ChromiumError("chromium not found (scripts/install-deps test installs it)")
    profile = tempfile.mkdtemp(prefix="status-page-chromium-")
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
           "--no-first-run", "--no-default-browser-check", "--disable-extensions",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--hide-scrollbars", "--mute-audio"] + list(args)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this call started, renderers included
        proc.communicate()
        raise ChromiumError(f"chromium took over {timeout} s: {' '.join(cmd)}") from None
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0:
        raise ChromiumError(f"chromium exited {proc.returncode}: {err.decode(errors='replace')}")
    return out.decode(errors="replace")


def dump_dom(url, timeout=DEFAULT_TIMEOUT):
    """Loads `url` in headless Chromium and returns the DOM it rendered, serialized as HTML."""
    dom = _run_chromium(["--dump-dom", url], timeout)
    if "<html" not in dom:
        raise ChromiumError(f"chromium returned no document for {url}: {dom[:200]!r}")
    return dom


def screenshot(url, path, timeout=DEFAULT_TIMEOUT, window_size=WINDOW_SIZE):
    """Saves a PNG of `url` as rendered at `window_size` (width, height) to `path` (directories
    are created). Returns the absolute path."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path):
        os.remove(path)
    _run_chromium([f"--screenshot={path}", f"--window-size={window_size[0]},{window_size[1]}",
                   url], timeout)
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            raise ChromiumError(f"chromium wrote no PNG to {path}")
    return path


class _Hooks(html.parser.HTMLParser):
    """Collects the attributes of the page's hook elements."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.writer = None
        self.backends = []
        self.changes = []
        self.members = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if a.get("id") == "writer":
            self.writer = a.get("data-writer") or ""
        elif tag == "tr" and "backend" in classes:
            self.backends.append((a.get("data-backend") or "", a.get("data-state") or "",
                                  int(a.get("data-sessions-rw") or 0),
                                  int(a.get("data-sessions-ro") or 0)))
        elif tag == "tr" and "writer-change" in classes:
            self.changes.append((a.get("data-from") or "", a.get("data-to") or ""))
        elif tag == "tr" and "member" in classes:
            self.members.append({"name": a.get("data-name") or "", "id": a.get("data-id") or "",
                                 "leader": a.get("data-leader") == "true"})


def _hooks(dom):
    parser = _Hooks()
    parser.feed(dom)
    parser.close()
    return parser


def writer_shown(dom):
    """The writer the page shows ("" when it shows none). Raises ValueError when `dom` is not
    the status page."""
    writer = _hooks(dom).writer
    if writer is None:
        raise ValueError("not sqlproxy's status page (no #writer element)")
    return writer


def backends_shown(dom):
    """{backend name: state} in page order; states as /status names them ("writable",
    "readable_only", "draining", "offline", "unknown")."""
    return {name: state for name, state, _, _ in _hooks(dom).backends}


def sessions_shown(dom):
    """{backend name: (sessions of the writer port, sessions of the read-only port)}."""
    return {name: (rw, ro) for name, _, rw, ro in _hooks(dom).backends}


def writer_changes_shown(dom):
    """[(from, to), ...] newest first; "" stands for no writer."""
    return _hooks(dom).changes


def members_shown(dom):
    """Discovery members as the page lists them: [{"name", "id", "leader": bool}]; [] when the
    proxy does not read its backends from discovery."""
    return _hooks(dom).members
