"""Go through go build -cover: counter files parsed into block features, go tool covdata read back."""

from __future__ import annotations

import re
import struct
import tempfile
from pathlib import Path

from twinbench.reference.coverage.apt import APT_LOCK, BuildRunner, apt_prefix, counter_files_written, run_tool
from twinbench.reference.coverage.model import CoverageBuildError

# go build -cover needs Go >= 1.20; Debian 12's default golang-go is 1.19, bookworm-backports has golang-1.22-go
MIN_GO_MINOR = 20
GO_PACKAGE = "golang-1.22-go"

_COUNTER_MAGIC = b"\x00cwm"
_FILE_HEADER = 32
_SEGMENT_HEADER = 16
_RAW, _ULEB128 = 1, 2


def go_toolchain(runner: BuildRunner) -> tuple[dict[str, str], dict[str, str]]:
    """A Go >= 1.20 from Debian first on PATH with GOFLAGS=-cover: (env additions, tools)."""
    go = _newest_go()
    if go is None:
        runner.say(
            f"no Go >= 1.{MIN_GO_MINOR} installed: installing {GO_PACKAGE} (from bookworm-backports on Debian 12)"
        )
        result = runner.attempt(
            [*apt_prefix(), "apt-get", "install", "-y", "--no-install-recommends", *APT_LOCK, GO_PACKAGE]
        )
        go = _newest_go()
        if result.returncode != 0 or go is None:
            raise runner.fail(
                f"go build -cover needs Go >= 1.{MIN_GO_MINOR} and apt cannot install {GO_PACKAGE} "
                "(add bookworm-backports to apt's sources, see scripts/setup.sh)"
            )
    return {"PATH_PREPEND": str(go.parent), "GOFLAGS": "-cover"}, {"go": str(go)}


def _newest_go() -> Path | None:
    found: list[tuple[int, Path]] = []
    for path in Path("/usr/lib").glob("go-1.*/bin/go"):
        match = re.fullmatch(r"go-1\.(\d+)", path.parent.parent.name)
        if match and int(match.group(1)) >= MIN_GO_MINOR:
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def covcounter_blocks(data: bytes) -> list[tuple[int, int, int]]:
    """(package index, function index, counter index) of every nonzero counter in a covcounters file."""
    if len(data) < _FILE_HEADER + _SEGMENT_HEADER or data[:4] != _COUNTER_MAGIC:
        return []
    flavor, big_endian = data[24], data[25]
    entries, strtab, args = struct.unpack_from("<QII", data, _FILE_HEADER)
    pos = _FILE_HEADER + _SEGMENT_HEADER + strtab + args
    pos += -pos % 4
    found: list[tuple[int, int, int]] = []
    try:
        reader = _Reader(data, pos, flavor, ">" if big_endian else "<")
        for _ in range(min(entries, len(data))):
            count, package, function = reader.next(), reader.next(), reader.next()
            for index in range(min(count, len(data))):
                if reader.next():
                    found.append((package, function, index))
    except (IndexError, struct.error, ValueError):
        pass  # a truncated file: keep what was read before the cut
    return found


class _Reader:
    """Reads the uint32 values of a counter segment, raw or ULEB128-encoded."""

    def __init__(self, data: bytes, pos: int, flavor: int, endian: str) -> None:
        if flavor not in (_RAW, _ULEB128):
            raise ValueError(f"unknown counter flavor {flavor}")
        self.data, self.pos, self.raw, self.word = data, pos, flavor == _RAW, endian + "I"

    def next(self) -> int:
        """The next value; IndexError past the end."""
        if self.raw:
            value: int = struct.unpack_from(self.word, self.data, self.pos)[0]
            self.pos += 4
            return value
        value, shift = 0, 0
        while True:
            byte = self.data[self.pos]
            self.pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7


def covcounter_features(name: str, data: bytes) -> list[tuple[str, int, int]]:
    """Block features of one run: (counter file name without its pid and time, package/function, counter)."""
    stable = name.rsplit(".", 2)[0] if name.count(".") >= 2 else name
    return [(stable, (package << 20) | function, index) for package, function, index in covcounter_blocks(data)]


def covdata_lines(go: str, coverdir: Path) -> dict[str, dict[int, int]]:
    """Import path of each file -> line -> count, from go tool covdata textfmt over the counter directory."""
    if not any(coverdir.glob("covmeta.*")):
        return {}
    with tempfile.TemporaryDirectory(prefix="twinbench-covdata-") as tmp:
        out = Path(tmp) / "cover.txt"
        run_tool([go, "tool", "covdata", "textfmt", f"-i={coverdir}", f"-o={out}"], "go tool covdata textfmt")
        return parse_textfmt(out.read_text(encoding="utf-8", errors="replace"))


def parse_textfmt(text: str) -> dict[str, dict[int, int]]:
    """`file:l1.c1,l2.c2 statements count` blocks -> file -> line -> count; a line is covered if a block on it ran."""
    files: dict[str, dict[int, int]] = {}
    for line in text.splitlines():
        match = re.fullmatch(r"(.+):(\d+)\.\d+,(\d+)\.\d+ (\d+) (\d+)", line.strip())
        if match is None:
            continue
        name, first, last, statements, count = match.groups()
        if int(statements) == 0:
            continue
        lines = files.setdefault(name, {})
        for number in range(int(first), int(last) + 1):
            lines[number] = max(lines.get(number, 0), int(count))
    return files


def verify_coverdir(exe: Path) -> None:
    """Run the binary once with GOCOVERDIR: it must write its meta-data and counters there."""
    if not counter_files_written(exe, [["--version"], ["--help"], []], "GOCOVERDIR", "{dir}", "covcounters.*"):
        raise CoverageBuildError(f"{exe} wrote no counters under GOCOVERDIR: not built with go build -cover")
