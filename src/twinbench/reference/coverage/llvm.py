"""Rust through rustc -C instrument-coverage: raw profiles parsed into region features, llvm-cov read back."""

from __future__ import annotations

import re
import struct
import subprocess
import tempfile
from itertools import compress
from pathlib import Path

from twinbench.reference.coverage.apt import BuildRunner, counter_files_written, run_tool
from twinbench.reference.coverage.gcov import library_path
from twinbench.reference.coverage.model import CoverageBuildError

RUSTC = "/usr/bin/rustc"  # Debian's rustc: the one that built the reference, not a rustup toolchain
PROFILE_NAME = "%m.profraw"  # %m: one file per binary signature, merged online by concurrent processes

_RAW_MAGIC = 0xFF6C70726F667281  # "\xfflprofr\x81"
_HEADER_WORDS = 11  # raw profile version 8 (LLVM 14 and 15)
_DATA_RECORD_BYTES = 48

# rustc needs a crate named profiler_builtins to link -C instrument-coverage binaries. Debian's rustc 1.63 does
# not ship it, but the runtime it wraps is LLVM's compiler-rt profile library, which libclang-rt-N-dev has.
_PROFILER_SHIM = """#![no_std]
#![feature(profiler_runtime)]
#![profiler_runtime]
#![no_builtins]
#[link(name = "clang_rt.profile-x86_64", kind = "static")]
extern "C" {}
"""


def profraw_counters(data: bytes) -> list[int]:
    """Indices of the nonzero region counters of one raw profile (version 8); [] for anything else."""
    if len(data) < _HEADER_WORDS * 8:
        return []
    header = struct.unpack_from(f"<{_HEADER_WORDS}Q", data, 0)
    magic, version, binary_ids, records, padding, counters = header[:6]
    if magic != _RAW_MAGIC or (version & 0xFFFFFFFF) != 8:
        return []
    start = _HEADER_WORDS * 8 + binary_ids + records * _DATA_RECORD_BYTES + padding
    count = min(counters, max(0, (len(data) - start) // 8))
    if count <= 0:
        return []
    values = struct.unpack_from(f"<{count}Q", data, start)
    return list(compress(range(count), values))


def profraw_features(name: str, data: bytes) -> list[tuple[str, int, int]]:
    """Region features of one run: (profile name, 0, counter index); the counter layout is fixed per binary."""
    return [(name, 0, index) for index in profraw_counters(data)]


def rust_toolchain(runner: BuildRunner, out_dir: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The build environment for -C instrument-coverage and the matching llvm tools: (env, tools)."""
    runner.apt_install(["rustc", "cargo"])
    version = subprocess.run([RUSTC, "-vV"], capture_output=True, text=True, check=False).stdout
    match = re.search(r"^LLVM version: (\d+)", version, flags=re.MULTILINE)
    if match is None:
        raise runner.fail(f"{RUSTC} -vV names no LLVM version")
    llvm = match.group(1)
    runner.apt_install([f"llvm-{llvm}"])
    tools = {"llvm-profdata": f"/usr/bin/llvm-profdata-{llvm}", "llvm-cov": f"/usr/bin/llvm-cov-{llvm}"}
    flags = "-C instrument-coverage"
    if not _has_profiler_builtins():
        flags += f" -L {_build_profiler_shim(runner, out_dir, llvm)}"
    return {"RUSTFLAGS": flags}, tools


def _has_profiler_builtins() -> bool:
    sysroot = subprocess.run([RUSTC, "--print", "sysroot"], capture_output=True, text=True, check=False).stdout
    lib = Path(sysroot.strip() or "/usr") / "lib" / "rustlib"
    return any(lib.glob("*/lib/libprofiler_builtins-*.rlib"))


def _build_profiler_shim(runner: BuildRunner, out_dir: Path, llvm: str) -> Path:
    runner.apt_install([f"libclang-rt-{llvm}-dev"])
    runtime = sorted(Path(f"/usr/lib/llvm-{llvm}/lib/clang").glob("*/lib/linux/libclang_rt.profile-x86_64.a"))
    if not runtime:
        raise runner.fail(f"libclang-rt-{llvm}-dev has no libclang_rt.profile-x86_64.a")
    shim = out_dir / "rust-profiler"
    shim.mkdir(exist_ok=True)
    (shim / "lib.rs").write_text(_PROFILER_SHIM, encoding="utf-8")
    runner.say("building a profiler_builtins crate around LLVM's profile runtime (Debian's rustc lacks one)")
    # RUSTC_BOOTSTRAP lets the stable compiler accept the one unstable attribute a profiler runtime needs
    runner.run(
        [
            RUSTC,
            "--crate-type=rlib",
            "--crate-name=profiler_builtins",
            "--edition=2018",
            "-O",
            f"-Lnative={runtime[-1].parent}",
            "-o",
            str(shim / "libprofiler_builtins.rlib"),
            str(shim / "lib.rs"),
        ],
        what="building profiler_builtins",
        env={"PATH": "/usr/bin:/bin", "RUSTC_BOOTSTRAP": "1", "HOME": str(out_dir)},
    )
    return shim


def verify_profile(exe: Path, libraries: list[Path]) -> list[str]:
    """Run the binary once with LLVM_PROFILE_FILE; the names of the profiles it writes (fixed per binary, one
    more for each instrumented library it loads)."""
    written = counter_files_written(
        exe, [["--version"], []], "LLVM_PROFILE_FILE", "{dir}/" + PROFILE_NAME, "*.profraw", library_path(libraries)
    )
    if written:
        return written
    raise CoverageBuildError(f"{exe} wrote no .profraw under LLVM_PROFILE_FILE: not built with -C instrument-coverage")


def llvm_lines(
    exe: Path, profiles: list[Path], tools: dict[str, str], libraries: list[Path]
) -> dict[str, dict[int, int]]:
    """Absolute source path -> line -> count from raw profiles, through llvm-profdata merge and llvm-cov export."""
    if not profiles:
        return {}
    with tempfile.TemporaryDirectory(prefix="twinbench-llvm-") as tmp:
        merged = Path(tmp) / "merged.profdata"
        run_tool(
            [tools["llvm-profdata"], "merge", "-sparse", "-o", str(merged), *map(str, profiles)],
            "llvm-profdata merge",
        )
        export = run_tool(
            [
                tools["llvm-cov"],
                "export",
                "-format=lcov",
                f"-instr-profile={merged}",
                str(exe),
                *(f"-object={library}" for library in libraries),
            ],
            "llvm-cov export",
        )
    return parse_lcov(export.stdout)


def parse_lcov(text: str) -> dict[str, dict[int, int]]:
    """lcov tracefile text -> source path -> line -> count (the highest count seen for a line)."""
    files: dict[str, dict[int, int]] = {}
    current: dict[int, int] | None = None
    for line in text.splitlines():
        if line.startswith("SF:"):
            current = files.setdefault(line[3:], {})
        elif line.startswith("DA:") and current is not None:
            number, _, count = line[3:].partition(",")
            try:
                key, value = int(number), int(count.split(",")[0])
            except ValueError:
                continue
            current[key] = max(current.get(key, 0), value)
        elif line == "end_of_record":
            current = None
    return files
