"""`twinbench report --serve`: the report on a local HTTP server, regenerated while a batch writes results."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from twinbench.formats import FormatError
from twinbench.report.charts import esc
from twinbench.report.html import render_html
from twinbench.report.load import AUDIT_FILE, SUMMARY_FILES, Run, find_eval_files, load_runs

POLL_SECONDS = 1.0

Fingerprint = tuple[tuple[str, int, int], ...]


def results_fingerprint(paths: list[Path]) -> Fingerprint:
    """Path, mtime and size of every file the report reads: any change to a result changes it."""
    seen: list[tuple[str, int, int]] = []
    for path in paths:
        root = path.parent if path.is_file() else path
        candidates = [root / name for name in SUMMARY_FILES]
        for eval_path in find_eval_files(path) if path.exists() else []:
            candidates += [eval_path, eval_path.parent / AUDIT_FILE]
        for candidate in candidates:
            try:
                stat = candidate.stat()
            except OSError:
                continue  # not there (yet), or gone between the walk and the stat
            seen.append((str(candidate), stat.st_mtime_ns, stat.st_size))
    return tuple(seen)


class LiveReport:
    """The page as last rendered and its version number, re-rendered when the results' files change."""

    def __init__(self, paths: list[Path], title: str, *, rank_flagged: bool) -> None:
        self.paths = paths
        self.title = title
        self.rank_flagged = rank_flagged
        self.version = 0
        self.page = b""
        self.runs: list[Run] = []
        self.problem: str | None = None  # why the last rendering shows an error instead of results
        self._fingerprint: Fingerprint | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Render again if any result file changed since the last rendering; True when it did."""
        fingerprint = results_fingerprint(self.paths)
        if fingerprint == self._fingerprint:
            return False
        version = self.version + 1
        problem: str | None = None
        try:
            runs = load_runs(self.paths, allow_empty=True)
        except FormatError as exc:  # a run dir removed while serving: say so on the page, keep serving
            runs, problem = [], str(exc)
            page = _problem_page(self.title, problem, version)
        else:
            page = render_html(runs, self.title, rank_flagged=self.rank_flagged, live=str(version))
        with self._lock:
            self.version, self.page, self.runs, self.problem = version, page.encode("utf-8"), runs, problem
            self._fingerprint = fingerprint
        return True

    def snapshot(self) -> tuple[int, bytes]:
        """The current version and page, consistent with each other."""
        with self._lock:
            return self.version, self.page


def _problem_page(title: str, problem: str, version: int) -> str:
    # no script of its own: the reload poll is only in a rendered report, so reload by hand after fixing
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">'
        f"<title>{esc(title)}</title></head><body><h1>{esc(title)}</h1><p>error: {esc(problem)}</p>"
        f"<p>version {version}; this page retries every 5 seconds.</p></body></html>\n"
    )


class _Handler(BaseHTTPRequestHandler):
    """GET / is the report, GET /version its version number; nothing else is served."""

    server: _ReportHTTPServer

    def do_GET(self) -> None:
        version, page = self.server.live.snapshot()
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", page)
        elif path == "/version":
            self._send(200, "text/plain; charset=utf-8", str(version).encode())
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: the report is at /\n")

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the page polls every two seconds, which would bury the terminal."""


class _ReportHTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a browser holding a connection open must not keep Ctrl-C from exiting

    def __init__(self, address: tuple[str, int], live: LiveReport) -> None:
        if ":" in address[0]:  # an IPv6 address such as ::1
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.live = live


class ReportServer:
    """A LiveReport served over HTTP from a background thread; `watch` re-renders until stopped."""

    def __init__(self, live: LiveReport, host: str = "127.0.0.1", port: int = 0) -> None:
        """Bind at once (port 0 picks a free port); raises OSError when the address cannot be used."""
        self.live = live
        live.refresh()
        self._server = _ReportHTTPServer((host, port), live)
        self._thread = threading.Thread(target=self._server.serve_forever, name="report-server", daemon=True)

    @property
    def url(self) -> str:
        """Where the report is served."""
        host, port = self._server.server_address[:2]
        host = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def start(self) -> None:
        """Serve in the background."""
        self._thread.start()

    def watch(
        self, stop: threading.Event, on_update: Callable[[LiveReport], None] | None = None, poll_s: float = POLL_SECONDS
    ) -> None:
        """Re-render whenever results change, until `stop` is set (or Ctrl-C interrupts the wait)."""
        while not stop.wait(poll_s):
            if self.live.refresh() and on_update is not None:
                on_update(self.live)

    def close(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> ReportServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
