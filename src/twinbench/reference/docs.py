"""Gathering what an agent may read about a reference program: man pages, --help/--version, READMEs, examples."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import select
import signal
import subprocess
import tempfile
import time
import zlib
from pathlib import Path

from twinbench.reference.debian import package_files

MAX_DOC_BYTES = 1_000_000
HELP_TIMEOUT_S = 10.0
MAN_TIMEOUT_S = 60.0
MAX_UNRELATED_MAN_PAGES = 8  # beyond this (coreutils ships 100+), keep only the pages about the command
DOCS_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
MAN_ENV = {**DOCS_ENV, "MANWIDTH": "80"}
_MAN_PAGE = re.compile(r"^/usr/share/man/man[^/]+/[^/]+$")  # English pages only: no /usr/share/man/de/...
_ERROR_WORDS = re.compile(r"invalid|unrecognized|unknown|illegal|not an option|not supported", re.IGNORECASE)


class _DocWriter:
    """Writes docs under one directory with unique names, skipping byte-identical duplicates."""

    def __init__(self, docs_dir: Path) -> None:
        self.docs_dir = docs_dir
        self.names: list[str] = []
        self._digests: set[str] = set()

    def write(self, name: str, data: bytes) -> None:
        data = _capped(data)
        digest = hashlib.sha256(data).hexdigest()
        if not data.strip() or digest in self._digests:
            return
        self._digests.add(digest)
        target = self.docs_dir / name
        stem, dot, suffix = name.rpartition(".") if "." in Path(name).name else (name, "", "")
        counter = 2
        while target.exists():
            target = self.docs_dir / (f"{stem}-{counter}{dot}{suffix}" if dot else f"{name}-{counter}")
            counter += 1
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.names.append(target.relative_to(self.docs_dir).as_posix())


def gather_docs(binary: Path, package: str | None, docs_dir: Path, extra_docs: Path | None = None) -> list[str]:
    """Write the program's docs into docs_dir; return their names relative to the task ("docs/<name>")."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    writer = _DocWriter(docs_dir)
    command = binary.name
    pages = _package_man_pages(package, command) if package else []
    if not pages:
        pages = _man_pages_named(command)
    for page in pages:
        text = _render_man_page(page)
        if text:
            writer.write(f"{_page_stem(page)}.txt", text.encode())
    help_text = _run_for_docs(binary, "--help")
    if help_text is not None:
        writer.write("help.txt", help_text.encode())
    version_text = _run_for_docs(binary, "--version")
    if version_text is not None and version_text != help_text:
        writer.write("version.txt", version_text.encode())
    if package:
        _copy_package_docs(Path("/usr/share/doc") / package, writer)
    if extra_docs is not None:
        _copy_extra_docs(extra_docs, writer)
    return [f"docs/{name}" for name in writer.names]


def _package_man_pages(package: str, command: str) -> list[Path]:
    """The package's man pages, the command's own first; for a big package (coreutils) only the related ones."""
    pages = [path for path in package_files(package) if _MAN_PAGE.match(str(path)) and path.exists()]
    if len(pages) > MAX_UNRELATED_MAN_PAGES:
        pages = [page for page in pages if _is_related_page(page, command)]

    def order(page: Path) -> tuple[bool, bool, str]:
        # the page named after the command first: it is the one doc mining trusts most
        return _page_name(page) != command, not _page_name(page).startswith(command), str(page)

    return sorted(pages, key=order)


def _is_related_page(page: Path, command: str) -> bool:
    name = _page_name(page)
    section = page.parent.name.removeprefix("man")
    # file formats (5) and overviews (7) describe what the command reads; figlet's page is "figlet-figlet"
    return name == command or name.startswith((f"{command}-", f"{command}_")) or section[:1] in ("5", "7")


def _page_name(page: Path) -> str:
    return _page_stem(page).rsplit(".", 1)[0]


def _man_pages_named(command: str) -> list[Path]:
    try:
        result = subprocess.run(
            ["man", "-w", command], capture_output=True, text=True, env=MAN_ENV, timeout=MAN_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [Path(line) for line in result.stdout.splitlines()[:1] if result.returncode == 0 and line.startswith("/")]


def _page_stem(page: Path) -> str:
    return page.name.removesuffix(".gz")


def _render_man_page(page: Path) -> str:
    try:
        result = subprocess.run(
            ["man", "-P", "cat", "-l", str(page)],
            capture_output=True,
            env=MAN_ENV,
            cwd="/usr/share/man",  # ".so man1/other.1" includes are relative to the man root
            timeout=MAN_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    text = result.stdout.decode("utf-8", errors="replace")
    # man drops bold and underline when not writing to a terminal; strip any overstrike left behind anyway
    return re.sub(r".\x08", "", text) if result.returncode == 0 else ""


def _run_for_docs(binary: Path, flag: str) -> str | None:
    """What `binary flag` prints (stdout and stderr interleaved), or None if that is nothing useful."""
    output = _run_captured([str(binary), flag])
    if output is None:
        return None
    text = output.decode("utf-8", errors="replace")
    for path in sorted({str(binary), str(binary.resolve())}, key=len, reverse=True):
        text = text.replace(path, binary.name)
    stripped = text.strip()
    if not stripped:
        return None
    # "prog: unknown option --version" alone says nothing; with a usage message it still documents the options
    if len(stripped.splitlines()) <= 2 and _ERROR_WORDS.search(stripped) and "usage" not in stripped.lower():
        return None
    return text


def _run_captured(argv: list[str]) -> bytes | None:
    """Run with a clean env, stdin /dev/null and a wall limit; stop reading at the size cap; None on timeout."""
    with tempfile.TemporaryDirectory(prefix="twinbench-docs-") as scratch:
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=scratch,
                env=DOCS_ENV,
                start_new_session=True,
            )
        except OSError:
            return None
        if process.stdout is None:
            return None
        deadline = time.monotonic() + HELP_TIMEOUT_S
        chunks: list[bytes] = []
        size = 0
        timed_out = False
        with process.stdout:
            while size < MAX_DOC_BYTES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                ready, _, _ = select.select([process.stdout], [], [], remaining)
                if not ready:
                    continue
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            if size < MAX_DOC_BYTES and not timed_out:
                timed_out = not _exited_unreaped(process.pid, deadline)
            # killed before reaping: the unreaped leader keeps its group id from being reused by a stranger
            _kill_group(process.pid)
            process.wait()
    return None if timed_out else b"".join(chunks)


def _exited_unreaped(pid: int, deadline: float) -> bool:
    """Wait until the process exits or the deadline passes, leaving it unreaped (a zombie)."""
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


def _kill_group(pgid: int) -> None:
    # the session we started may hold children that outlived their parent; none of them may outlive us
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _copy_package_docs(doc_dir: Path, writer: _DocWriter) -> None:
    if not doc_dir.is_dir():
        return
    for path in sorted(doc_dir.glob("README*")):
        if path.is_file():
            data = _read_doc_file(path)
            if data is not None:
                writer.write(_plain_name(path.name), data)
    examples = doc_dir / "examples"
    if examples.is_dir():
        for path in sorted(examples.rglob("*")):
            if path.is_file():
                data = _read_doc_file(path)
                if data is not None:
                    writer.write(f"examples/{_plain_name(path.relative_to(examples).as_posix())}", data)


def _copy_extra_docs(extra_docs: Path, writer: _DocWriter) -> None:
    files = [extra_docs] if extra_docs.is_file() else sorted(p for p in extra_docs.rglob("*") if p.is_file())
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        name = path.name if path == extra_docs else path.relative_to(extra_docs).as_posix()
        writer.write(name, data)


def _read_doc_file(path: Path) -> bytes | None:
    """A text file's bytes, decompressed if .gz; None for binary files or unreadable ones."""
    try:
        if path.name.endswith(".gz"):
            with gzip.open(path, "rb") as stream:
                data = stream.read(MAX_DOC_BYTES + 1)
        else:
            with path.open("rb") as stream:
                data = stream.read(MAX_DOC_BYTES + 1)
    except (OSError, EOFError, zlib.error):
        return None
    return None if b"\0" in data[:8192] else data


def _plain_name(name: str) -> str:
    return name.removesuffix(".gz")


def _capped(data: bytes) -> bytes:
    if len(data) <= MAX_DOC_BYTES:
        return data
    cut = data[:MAX_DOC_BYTES]
    # end on a line break when there is one, so no line (or UTF-8 character) is cut in half
    newline = cut.rfind(b"\n")
    return cut[: newline + 1] if newline > 0 else cut
