"""Reading a coverage build's counters, whatever the toolchain: features for guidance, line coverage for reports."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Callable
from pathlib import Path

from twinbench.formats import CoverageReport
from twinbench.reference.coverage import gcov, golang, llvm
from twinbench.reference.coverage.accounting import Role, classify_source, classify_tree_path, coverage_report
from twinbench.reference.coverage.model import CoverageBuild, CoverageBuildError

CARGO_REGISTRY = "/usr/share/cargo/registry/"
_CXX_SUFFIXES = (".cc", ".cpp", ".cxx", ".C", ".c++")

FileLines = dict[str, tuple[Role, dict[int, int]]]


def features_of(files: dict[str, bytes | None]) -> frozenset[tuple[str, int, int]]:
    """Code features of one run from the counter files it wrote (.gcda, .profraw or Go covcounters)."""
    features: list[tuple[str, int, int]] = []
    for name, data in files.items():
        if not data:
            continue
        base = name.rsplit("/", 1)[-1]
        if base.endswith(".gcda"):
            features.extend(gcov.gcda_features(name, data))
        elif base.endswith(".profraw"):
            features.extend(llvm.profraw_features(name, data))
        elif base.startswith("covcounters."):
            features.extend(golang.covcounter_features(name, data))
    return frozenset(features)


def guidance_settings(
    build: CoverageBuild, counter_dir: str, library_dir: str = ""
) -> tuple[dict[str, str], list[str], dict[str, bytes]]:
    """How a sandboxed run writes its counters: (environment, work-dir files to collect, files to create first).

    counter_dir is the absolute directory for counters and `rel` its path relative to the work dir's root;
    every run has its own work dir, so parallel runs never mix their counters. library_dir is where the
    sandbox sees the build's own libraries (build.libraries, staged there by the caller under their names).
    """
    rel = counter_dir.rstrip("/").rsplit("/", 1)[-1]
    loader = {"LD_LIBRARY_PATH": library_dir} if build.libraries and library_dir else {}
    if build.toolchain == "llvm":
        env = {**loader, "LLVM_PROFILE_FILE": f"{counter_dir}/{llvm.PROFILE_NAME}"}
        return env, [f"{rel}/{name}" for name in build.gcda_files], {}
    if build.toolchain == "go":
        # Go writes nothing (and complains on stderr) when GOCOVERDIR does not exist yet
        return {**loader, "GOCOVERDIR": counter_dir}, [f"{rel}/"], {f"{rel}/.keep": b""}
    env = {**loader, "GCOV_PREFIX": counter_dir, "GCOV_PREFIX_STRIP": str(build.strip_components)}
    return env, [f"{rel}/{name}" for name in build.gcda_files], {}


def library_env(build: CoverageBuild) -> dict[str, str]:
    """The environment that makes a run on this machine load the build's own instrumented libraries."""
    return {"LD_LIBRARY_PATH": gcov.library_path(build.libraries)} if build.libraries else {}


def line_coverage(build: CoverageBuild, run_all: Callable[[dict[str, str]], None]) -> CoverageReport:
    """Line coverage after run_all(env_extra) ran a suite with the instrumented binary, every file with its role.

    The counters go to a fresh directory, never into the build tree, so two measurements with one build at
    the same time do not mix (gcc: the notes are copied beside them; gcov finds the sources from the notes).
    """
    return coverage_report(covered_lines(build, run_all))


def covered_lines(build: CoverageBuild, run_all: Callable[[dict[str, str]], None]) -> FileLines:
    """Every source file's role and line -> count after run_all(env_extra) ran a suite (see line_coverage)."""
    with tempfile.TemporaryDirectory(prefix="twinbench-counters-") as tmp:
        if build.toolchain == "gcc":
            for rel in build.gcda_files:
                note = (Path(build.object_dir_prefix) / rel).with_suffix(".gcno")
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(note, (Path(tmp) / rel).with_suffix(".gcno"))
            run_all({**library_env(build), "GCOV_PREFIX": tmp, "GCOV_PREFIX_STRIP": str(build.strip_components)})
        elif build.toolchain == "llvm":
            run_all({**library_env(build), "LLVM_PROFILE_FILE": f"{tmp}/%p-{llvm.PROFILE_NAME}"})  # one per process
        else:
            run_all({**library_env(build), "GOCOVERDIR": tmp})
        return file_lines(build, Path(tmp))


def file_lines(build: CoverageBuild, counter_dir: Path | None) -> FileLines:
    """Every source file the build's counters name: its role and line -> count.

    gcc: counter_dir holds the notes and counters (None: the build tree's notes, counts all zero).
    """
    out: FileLines = {}
    if build.toolchain == "gcc":
        notes_dir = counter_dir or Path(build.object_dir_prefix)
        notes = [str((notes_dir / rel).with_suffix(".gcno")) for rel in build.gcda_files]
        for _cwd, rel, lines in gcov.gcov_lines(notes, build.source_dir):
            role, merged = out.setdefault(rel, (classify_source(build.source_dir, rel), {}))
            # a header's lines show up once per object that includes it: a line is covered if any object ran it
            for number, count in lines.items():
                merged[number] = max(merged.get(number, 0), count)
        return out
    if counter_dir is None:
        raise CoverageBuildError(f"{build.toolchain} counters need a counter directory")
    if build.toolchain == "llvm":
        raw = llvm.llvm_lines(build.binary, sorted(counter_dir.glob("*.profraw")), build.tools, build.libraries)
        mapper = _rust_mapper(build)
    else:
        raw = golang.covdata_lines(build.tools["go"], counter_dir)
        mapper = _go_mapper(build)
    for path, lines in raw.items():
        name, role = mapper(path)
        _role, merged = out.setdefault(name, (role, {}))
        for number, count in lines.items():
            merged[number] = max(merged.get(number, 0), count)
    return out


def _rust_mapper(build: CoverageBuild) -> Callable[[str], tuple[str, Role]]:
    """Name and role of a path llvm-cov reports; Debian's cargo wrapper remaps the tree into the registry."""
    root = str(build.source_dir) + "/"
    own = CARGO_REGISTRY + _crate_id(build.source_dir) + "/"

    def mapped(path: str) -> tuple[str, Role]:
        if path.startswith(root):
            path = path[len(root) :]
            if path.startswith("debian/cargo_registry/"):
                return path[len("debian/cargo_registry/") :], "dependency"
        elif path.startswith(own):
            path = path[len(own) :]
        elif path.startswith(CARGO_REGISTRY):
            return path[len(CARGO_REGISTRY) :], "dependency"
        elif os.path.isabs(path):
            return path, "dependency"
        return path, "generated" if path.startswith("target/") else classify_tree_path(path)

    return mapped


def _crate_id(source_dir: Path) -> str:
    try:
        package = tomllib.loads((source_dir / "Cargo.toml").read_text(encoding="utf-8")).get("package", {})
    except (OSError, tomllib.TOMLDecodeError):
        return source_dir.name
    return f"{package.get('name', '')}-{package.get('version', '')}"


def _go_mapper(build: CoverageBuild) -> Callable[[str], tuple[str, Role]]:
    """Name and role of a file go tool covdata reports by import path."""
    prefix = build.import_path.rstrip("/") + "/"

    def mapped(path: str) -> tuple[str, Role]:
        if build.import_path and path.startswith(prefix):
            return path[len(prefix) :], classify_tree_path(path[len(prefix) :])
        return path, "dependency"

    return mapped


def own_sources(build: CoverageBuild) -> tuple[list[str], str]:
    """The program's own source files (those the headline counts) and the language they are in."""
    if build.toolchain == "gcc":
        lines = file_lines(build, None)
    else:
        with tempfile.TemporaryDirectory(prefix="twinbench-counters-") as tmp:
            key = "LLVM_PROFILE_FILE" if build.toolchain == "llvm" else "GOCOVERDIR"
            value = f"{tmp}/{llvm.PROFILE_NAME}" if build.toolchain == "llvm" else tmp
            subprocess.run(
                [str(build.binary), "--version"],
                cwd=tmp,
                env={**os.environ, **library_env(build), key: value},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=30,
                check=False,
            )
            lines = file_lines(build, Path(tmp))
    own = sorted(name for name, (role, _lines) in lines.items() if role == "own")
    if build.toolchain == "llvm":
        return own, "rust"
    if build.toolchain == "go":
        return own, "go"
    return own, "c++" if any(name.endswith(_CXX_SUFFIXES) for name in own) else "c"
