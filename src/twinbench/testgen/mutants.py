"""Mutation score: how many small faults planted in the reference's own sources does the suite notice?

Mutants are built from a coverage build's tree (C and C++ sources; simple operator mutations at sites
drawn with a fixed seed). Only the mutated object is rebuilt, by make in a private copy of the build tree,
and each mutant's binary is cached by what it was built from. A mutant whose binary is byte-identical to
the unmutated rebuild of the same file is equivalent and discarded. Each remaining mutant is graded with
the suite in the sandbox; it is killed when some case that the unmutated build passes fails.
"""

from __future__ import annotations

import difflib
import hashlib
import math
import os
import random
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, Field

from twinbench.formats import Mutant, MutationReport, Suite, Task, TestCase, TestStatus
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import CoverageBuildError
from twinbench.reference.coverage.gcov import gcno_functions
from twinbench.sandbox import WORK_DIR, ExecResult
from twinbench.sandbox.launcher import cache_dir
from twinbench.testgen.explore import EXPLORE_TIMEOUT_S, GCOV_DIR
from twinbench.testgen.record import CaseSpec, case_for_spec
from twinbench.testgen.rust_mutants import RustcReplay, RustcUnit, rustc_units
from twinbench.testgen.validity import grade_executable, run_executable

Item = TypeVar("Item")
MUTABLE_SUFFIXES = (".c", ".cc", ".cpp", ".cxx", ".y", ".l", ".rs")
MAKE_TIMEOUT_S = 600
GRADE_CHUNK = 128
FIRST_GRADE_CHUNK = 8
COVERAGE_FLAGS = "--coverage -O0 -g"
# Each set is appended last, so it wins over the build's own -O and -g; a fixed seed keeps the optimizer
# deterministic. A mutant is equivalent when any one set compiles it to the unmutated binary: the sets see
# different things (plain -O2 folded figlet's dead `wordbreakmode = 1`, which whole-program optimization
# did not; link-time optimization with unreferenced sections dropped removes a function the program never
# calls, figlet's Zread, which plain -O2 keeps)
OPTIMIZING_FLAG_SETS = (
    "-O2 -g0 -frandom-seed=twinbench-mutant",
    "-O2 -g0 -frandom-seed=twinbench-mutant -flto -ffat-lto-objects -flto-partition=one"
    " -ffunction-sections -fdata-sections -Wl,--gc-sections",
)
OPTIMIZING_COMPILERS = ("cc", "gcc", "c++", "g++", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-g++")
COMPILER_WRAPPER = "twinbench-cc"
COMPILER_WRAPPERS = "compiler-wrappers"
# counters of a coverage-built mutant go to a scratch dir; unwritable counters would print to stderr
GCOV_ENV = {"GCOV_PREFIX": f"{WORK_DIR}/.twinbench-gcov", "GCOV_PREFIX_STRIP": "64"}

_OPERATORS = re.compile(r"==|!=|<=|>=|&&|\|\||<<=?|>>=?|->|\+\+|--|\+=|-=|[<>+\-]|(?<![\w.$@])\d+(?![\w.])")
# `$1` and `@2` in a yacc action name a rule's parts: not numbers (swapping them makes bison fail)
_SWAPS = {
    "==": "!=", "!=": "==", "<=": "<", ">=": ">", "<": "<=", ">": ">=", "&&": "||", "||": "&&",
    "+": "-", "-": "+", "+=": "-=", "-=": "+=",
}  # fmt: skip
_MASK = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
# Rust's strings may span lines and be raw (r#"..."#, which escapes nothing); a char literal holds one char
# or one escape, so a lifetime (`'a`) is code
_MASK_RUST = re.compile(r'/\*.*?\*/|//[^\n]*|b?r(#*)".*?"\1|b?"(?:\\.|[^"\\])*"|b?\'(?:\\[^\']+|[^\'\\\n])\'', re.S)


class MutationTarget(BaseModel):
    """The seam to a coverage build: where its sources and build tree are, and how make rebuilds the binary."""

    source_dir: Path
    binary: Path
    source_files: list[str] = Field(description="mutable sources, relative to source_dir")
    make_args: list[str] = Field(default_factory=list, description="variables the build was made with")
    make_env: dict[str, str] = Field(default_factory=dict, description="environment make needs for the same compiler")
    label: str = "reference"
    rustc_units: list[RustcUnit] = Field(
        default_factory=list, description="a cargo build: its own crates' rustc runs, replayed instead of make"
    )
    notes: dict[str, Path] = Field(
        default_factory=dict, description="a gcc build: .gcda path (as runs write it) -> its .gcno note file"
    )


@dataclass(frozen=True)
class Site:
    """A place in a source file where one operator or literal can be swapped."""

    file: str
    offset: int
    line: int
    original: str
    replacement: str


def target_from_coverage_build(build: object) -> MutationTarget:
    """A MutationTarget from a coverage build (reference.coverage.CoverageBuild), read through its
    source_dir, binary, source_files, package and version only.

    make gets the compiler the build used: the `compiler-wrappers` dir on PATH with Debian's flag variables
    (a dpkg-buildpackage build), or the `twinbench-cc` wrapper as CC (a plain make build). A binary installed
    under debian/ is rebuilt where make makes it: the same-named executable elsewhere in the tree.
    """
    source_dir = Path(getattr(build, "source_dir"))  # noqa: B009 - any object with these fields will do
    binary = Path(getattr(build, "binary"))  # noqa: B009
    sources = [name for name in getattr(build, "source_files", []) if name.endswith(MUTABLE_SUFFIXES)]
    label = f"{getattr(build, 'package', 'reference')}-{getattr(build, 'version', '')}"
    if getattr(build, "language", "c") == "rust":
        return _rust_target(source_dir, binary, sources, Path(getattr(build, "build_log", "") or "/nonexistent"), label)
    make_args: list[str] = []
    make_env: dict[str, str] = {}
    wrappers = source_dir.parent / COMPILER_WRAPPERS
    wrapper = source_dir.parent / COMPILER_WRAPPER
    if wrappers.is_dir():
        make_env = {
            "PATH": f"{wrappers}:/usr/sbin:/usr/bin:/sbin:/bin",
            "DEB_CFLAGS_APPEND": COVERAGE_FLAGS,
            "DEB_CXXFLAGS_APPEND": COVERAGE_FLAGS,
            "DEB_LDFLAGS_APPEND": "--coverage",
        }
    elif wrapper.exists():
        make_args = [f"CC={wrapper}", f"CFLAGS={COVERAGE_FLAGS}", "LDFLAGS=--coverage"]
    made = _made_binary(source_dir, binary)
    if not made.is_relative_to(source_dir):
        raise CoverageBuildError(f"{made} is not inside the build tree {source_dir}: no mutants can be made from it")
    notes: dict[str, Path] = {}
    if getattr(build, "toolchain", "gcc") == "gcc" and getattr(build, "object_dir_prefix", ""):
        prefix = Path(getattr(build, "object_dir_prefix"))  # noqa: B009
        notes = {rel: (prefix / rel).with_suffix(".gcno") for rel in getattr(build, "gcda_files", [])}
    return MutationTarget(
        source_dir=source_dir,
        binary=made,
        source_files=sources,
        make_args=make_args,
        make_env=make_env,
        label=f"{getattr(build, 'package', 'reference')}-{getattr(build, 'version', '')}",
        notes=notes,
    )


def _rust_target(source_dir: Path, binary: Path, sources: list[str], log: Path, label: str) -> MutationTarget:
    """A cargo build's target: its own crates' rustc runs, read from the build log."""
    try:
        units = rustc_units(log.read_text(encoding="utf-8", errors="replace"), source_dir)
    except OSError as exc:
        raise CoverageBuildError(f"no mutants of a Rust build without its build log ({log}): {exc}") from None
    if not units:
        raise CoverageBuildError(f"{log} shows no rustc run of a crate in {source_dir} (not a cargo -vv log?)")
    return MutationTarget(
        source_dir=source_dir,
        binary=binary,
        source_files=[name for name in sources if name.endswith(".rs")],
        label=label,
        rustc_units=units,
    )


def optimizing_target(target: MutationTarget, wrappers: Path, flags: str) -> MutationTarget:
    """The same target built optimized and without counters or debug info, by compilers in `wrappers`.

    Two builds that differ only in a mutation the optimizer folds away (`x + 0`, a store nobody reads) are
    byte-identical here, though not as coverage builds, whose counters and line tables follow the source."""
    wrappers.mkdir(parents=True, exist_ok=True)
    for name in OPTIMIZING_COMPILERS:
        script = wrappers / name
        real = _real_compiler(target, name)
        script.write_text(f'#!/bin/sh\nexec {real} "$@" {flags}\n', encoding="utf-8")
        script.chmod(0o755)
    make_args = [arg for arg in target.make_args if arg.split("=", 1)[0] not in ("CC", "CXX", "CFLAGS", "LDFLAGS")]
    make_args += [f"CC={wrappers / 'cc'}", f"CXX={wrappers / 'c++'}", f"CFLAGS={flags}", f"LDFLAGS={flags}"]
    make_env = {key: value for key, value in target.make_env.items() if not key.startswith("DEB_")}
    if target.make_env:
        # a dpkg-buildpackage build: its rules pick the compiler from PATH and the flags from dpkg-buildflags
        make_args = []
        make_env["PATH"] = f"{wrappers}:/usr/sbin:/usr/bin:/sbin:/bin"
        for variable in ("DEB_CFLAGS_APPEND", "DEB_CXXFLAGS_APPEND"):
            make_env[variable] = flags
    return target.model_copy(update={"make_args": make_args, "make_env": make_env, "label": target.label + "-O2"})


_EXEC_LINE = re.compile(r'^exec (\S+) "\$@"', re.M)


def _real_compiler(target: MutationTarget, name: str) -> str:
    """The compiler a coverage wrapper of the target calls for `name`, else the one on PATH."""
    candidates = [target.source_dir.parent / COMPILER_WRAPPERS / name]
    if name in ("cc", "gcc"):
        candidates.append(target.source_dir.parent / COMPILER_WRAPPER)
    for candidate in candidates:
        try:
            found = _EXEC_LINE.search(candidate.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            continue
        if found:
            return found.group(1)
    return shutil.which(name, path="/usr/bin:/bin") or name


def _made_binary(source_dir: Path, binary: Path) -> Path:
    """Where make leaves the binary: `binary` itself, unless that is an installed copy under debian/.

    The copy is found by name, else by GNU build-id or identical content: packages rename what they install
    (Debian's figlet installs figlet as figlet-figlet), and make cannot rebuild a target it has no rule for,
    so every mutant would then be the unmutated binary."""
    try:
        relative = binary.relative_to(source_dir)
    except ValueError:
        return binary
    if relative.parts[:1] != ("debian",):
        return binary
    executables: list[Path] = []
    for root, dirs, files in os.walk(source_dir):
        dirs[:] = sorted(d for d in dirs if d not in ("debian", ".git", ".libs", ".pc"))
        for name in sorted(files):
            path = Path(root) / name
            if path.is_file() and not path.is_symlink() and os.access(path, os.X_OK):
                if name == binary.name:
                    return path
                executables.append(path)
    try:
        installed = binary.read_bytes()
    except OSError:
        return binary
    identity = _build_id(installed)
    for path in executables:
        try:
            content = path.read_bytes()
        except OSError:
            continue
        if content == installed or (identity is not None and _build_id(content) == identity):
            return path
    return binary


MAKEFILES = ("GNUmakefile", "makefile", "Makefile")
PENDING = "mutating"  # names the source a build has mutated in the copy until it has put the original back


def _make_location(source_dir: Path, binary: Path) -> tuple[Path, str]:
    """The directory (relative to the build tree) to run make in for `binary`, and the target to ask for."""
    relative = binary.relative_to(source_dir)
    for depth in range(len(relative.parts) - 1, -1, -1):
        directory = Path(*relative.parts[:depth])
        if any((source_dir / directory / name).is_file() for name in MAKEFILES):
            return directory, str(Path(*relative.parts[depth:]))
    return relative.parent, relative.name


_BUILD_ID_NOTE = re.compile(rb"\x04\x00\x00\x00([\x08-\x40])\x00\x00\x00\x03\x00\x00\x00GNU\x00", re.S)


def _build_id(content: bytes) -> bytes | None:
    """The GNU build-id note of an ELF file (kept by strip), or None."""
    if not content.startswith(b"\x7fELF"):
        return None
    match = _BUILD_ID_NOTE.search(content, 0, 1 << 16)
    if match is None:
        return None
    return content[match.end() : match.end() + match.group(1)[0]]


def mutation_sites(target: MutationTarget) -> list[Site]:
    """Every operator and integer literal outside comments, strings and preprocessor lines."""
    sites: list[Site] = []
    for name in target.source_files:
        try:
            text = (target.source_dir / name).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError:
            continue
        mask = _MASK_RUST if name.endswith(".rs") else _MASK
        masked = mask.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
        # preprocessor lines, and yacc/lex declarations (%token <type> ...), are not code to mutate
        masked = re.sub(r"(?m)^[ \t]*[#%].*$", lambda m: " " * len(m.group(0)), masked)
        rust = name.endswith(".rs")
        for match in _OPERATORS.finditer(masked):
            token = match.group(0)
            if rust and not token.isdigit() and not _spaced(masked, match.start(), match.end()):
                # rustfmt spaces binary operators; unspaced ones are generics (`Vec<u8>`), closures (`||`),
                # references (`&&x`) or negation, whose swaps do not compile
                continue
            replacement = _SWAPS.get(token)
            if replacement is None and token.isdigit():
                replacement = "1" if token == "0" else "0" if token == "1" else str(int(token) + 1)
            if replacement is not None:
                line = masked.count("\n", 0, match.start()) + 1
                sites.append(Site(name, match.start(), line, token, replacement))
    return sites


def _spaced(text: str, start: int, end: int) -> bool:
    return start > 0 and text[start - 1] in " \t\n" and end < len(text) and text[end] in " \t\n"


Function = tuple[str, int]  # (.gcda path, function ident): what a run's edge features name


class FunctionMap:
    """Which function of the coverage build each source line is in, read from the build's note files.

    A run that executed a function has a nonzero counter on one of its arcs (gcc keeps the fake exit->entry
    edge off the spanning tree, so every function has one), so a run's edge features tell which functions it
    ran; a run whose features name none of the mutated line's functions executed none of that line's code,
    and a mutant there cannot change what it does."""

    def __init__(self, target: MutationTarget) -> None:
        self.spans: dict[str, list[tuple[int, int, Function]]] = {}
        for gcda, note in target.notes.items():
            try:
                cwd, functions = gcno_functions(note.read_bytes())
            except OSError:
                continue
            for ident, source, first, last in functions:
                path = os.path.normpath(os.path.join(cwd, source))
                try:
                    relative = str(Path(path).relative_to(target.source_dir))
                except ValueError:
                    continue
                self.spans.setdefault(relative, []).append((first, last, (gcda, ident)))

    def functions_at(self, site: Site) -> frozenset[Function] | None:
        """The functions whose lines hold the site; None when none does (a global's initializer, a file the
        notes do not describe): then any run may reach it."""
        found = frozenset(f for first, last, f in self.spans.get(site.file, []) if first <= site.line <= last)
        return found or None


def function_of(feature: tuple[object, ...]) -> Function | None:
    """The function an edge feature of a gcov counter file belongs to (None for other features)."""
    name = feature[0]
    if isinstance(name, str) and name.endswith(".gcda") and len(feature) == 3 and isinstance(feature[1], int):
        return (name.split("/", 1)[1] if name.startswith(GCOV_DIR + "/") else name, feature[1])
    return None


def functions_run(features: Iterable[tuple[object, ...]]) -> frozenset[Function] | None:
    """The functions a run's edge features show it executed; None when it wrote no counters at all (it was
    killed, or exec failed): then nothing is known about what it ran."""
    found = {function for function in map(function_of, features) if function is not None}
    return frozenset(found) if found else None


def may_reach(ran: frozenset[Function] | None, needed: frozenset[Function] | None) -> bool:
    """Whether a run that executed `ran` may have run a line inside `needed` (unknown on either side: yes)."""
    return ran is None or needed is None or not ran.isdisjoint(needed)


def choose_sites(target: MutationTarget, count: int, seed: int) -> list[Site]:
    """`count` sites drawn with a fixed seed, at most one per line."""
    by_line: dict[tuple[str, int], list[Site]] = {}
    for site in mutation_sites(target):
        by_line.setdefault((site.file, site.line), []).append(site)
    rng = random.Random(seed)
    lines = sorted(by_line)
    rng.shuffle(lines)
    return [rng.choice(by_line[key]) for key in lines[:count]]


class MutantBuilder:
    """Builds mutants in one private copy of the build tree, rebuilding only what a mutation touches."""

    def __init__(self, target: MutationTarget, root: Path | None = None) -> None:
        self.target = target
        self.root = root or cache_dir() / "mutants" / _slug(target.label + str(target.source_dir))
        self.tree = self.root / "tree"
        self.binary = self.tree / target.binary.relative_to(target.source_dir)
        # make runs where a Makefile knows the binary: its own directory, or the nearest one above it that
        # has a Makefile (a non-recursive automake build such as sed's makes sed/sed from the top)
        self.make_dir, self.make_target = _make_location(target.source_dir, target.binary)
        self._optimizing: list[MutantBuilder] = []
        self.replay: RustcReplay | None = None
        if target.rustc_units:
            self.replay = RustcReplay(target.source_dir, target.rustc_units, target.binary.name, self.root / "replay")
        # a replayed rustc build has neither counters nor debug info: identical builds are already the
        # compiler's proof; a coverage build's are not, so it is built again optimized
        self.identical_means = "identical build" if self.replay else "identical coverage build"

    def compiler_proves_equivalent(self, site: Site) -> bool:
        """Whether the mutant's binary is byte-identical to the unmutated file's when built optimized with any
        of OPTIMIZING_FLAG_SETS (each in a private tree of its own). A build that fails proves nothing."""
        if self.replay is not None:
            return False
        if not self._optimizing:
            for number, flags in enumerate(OPTIMIZING_FLAG_SETS):
                optimized = optimizing_target(self.target, self.root / f"optimizing-compilers-{number}", flags)
                self._optimizing.append(MutantBuilder(optimized, self.root / f"optimized-{number}"))
        for builder in self._optimizing:
            baseline = builder.baseline(site.file)
            mutant = builder.build(site) if baseline is not None else None
            if mutant is not None and baseline is not None and mutant.read_bytes() == baseline.read_bytes():
                return True
        return False

    def baseline(self, file: str) -> Path | None:
        """The binary rebuilt in the copy with `file` unmutated (what a mutant of `file` is compared with)."""
        original = (self.target.source_dir / file).read_bytes()
        return self._build(file, original, _key(self.target, file, original, "baseline"))

    def build(self, site: Site) -> Path | None:
        """The mutant's binary (cached), or None when it does not build."""
        original = (self.target.source_dir / site.file).read_bytes()
        encoded = original.decode("utf-8", errors="surrogateescape")
        mutated = encoded[: site.offset] + site.replacement + encoded[site.offset + len(site.original) :]
        key = _key(self.target, site.file, original, f"{site.offset}:{site.original}>{site.replacement}")
        return self._build(site.file, mutated.encode("utf-8", errors="surrogateescape"), key)

    def _build(self, file: str, content: bytes, key: str) -> Path | None:
        cached = self.root / "built" / key
        if (cached / "failed").exists():
            return None
        if (cached / "executable").is_file():
            return cached / "executable"
        if self.replay is not None:
            return self._replayed(self.replay, file, content, cached)
        self._ensure_tree()
        source = self.tree / file
        # the coverage build's file, not the copy's: a build killed before it restored the copy left a mutant
        # there, which every later build would carry
        original = (self.target.source_dir / file).read_bytes()
        self._restore_interrupted()
        pending = self.root / PENDING
        try:
            pending.write_text(file, encoding="utf-8")
            source.write_bytes(content)
            # newer than every object, whatever the clock granularity: make rebuilds this one object
            future = time.time() + 2
            os.utime(source, (future, future))
            result = subprocess.run(
                ["make", "-C", str(self.tree / self.make_dir), self.make_target, *self.target.make_args],
                capture_output=True,
                timeout=MAKE_TIMEOUT_S,
                check=False,
                env=self._env(),
            )
            cached.mkdir(parents=True, exist_ok=True)
            if result.returncode != 0 or not self.binary.is_file():
                (cached / "failed").write_bytes(result.stderr[-4000:])
                return None
            shutil.copy2(self.binary, cached / "executable")
            return cached / "executable"
        except (subprocess.TimeoutExpired, OSError) as exc:
            cached.mkdir(parents=True, exist_ok=True)
            (cached / "failed").write_text(f"make did not run to the end: {exc}")
            return None
        finally:
            source.write_bytes(original)
            later = time.time() + 4  # the next build rebuilds the restored object too
            os.utime(source, (later, later))
            pending.unlink(missing_ok=True)

    def _restore_interrupted(self) -> None:
        """Put back the file a killed build left mutated in the copy (named in the PENDING marker)."""
        pending = self.root / PENDING
        if not pending.is_file():
            return
        file = pending.read_text(encoding="utf-8")
        if file in self.target.source_files:
            (self.tree / file).write_bytes((self.target.source_dir / file).read_bytes())
            later = time.time() + 4
            os.utime(self.tree / file, (later, later))
        pending.unlink()

    def _replayed(self, replay: RustcReplay, file: str, content: bytes, cached: Path) -> Path | None:
        scratch = self.root / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        built, complaint = replay.build(file, content, scratch)
        cached.mkdir(parents=True, exist_ok=True)
        if built is None:
            (cached / "failed").write_bytes(complaint)
            return None
        shutil.copy2(built, cached / "executable")
        shutil.rmtree(scratch, ignore_errors=True)
        return cached / "executable"

    def _ensure_tree(self) -> None:
        ready = self.root / "tree.ready"
        if ready.exists() and self.tree.is_dir():
            return
        if self.tree.exists():
            shutil.rmtree(self.tree)
        self.root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.target.source_dir, self.tree, symlinks=True)
        # every mutable object is rebuilt once in the copy (objects embed the path of their counters, which
        # the copy changes), so that later builds differ from each other only in the mutated object
        future = time.time() + 1
        for name in self.target.source_files:
            if (self.tree / name).is_file():
                os.utime(self.tree / name, (future, future))
        try:
            subprocess.run(
                ["make", "-C", str(self.tree / self.make_dir), self.make_target, *self.target.make_args],
                capture_output=True,
                timeout=MAKE_TIMEOUT_S,
                check=False,
                env=self._env(),
            )
        except (subprocess.TimeoutExpired, OSError) as exc:
            raise CoverageBuildError(f"make cannot rebuild {self.binary.name} in a copy of the build: {exc}") from None
        ready.write_text("ok")

    def _env(self) -> dict[str, str]:
        return {**os.environ, **self.target.make_env}


def mutation_score(
    task: Task,
    suite: Suite,
    target: MutationTarget,
    count: int,
    sandbox: Sandbox,
    workers: int,
    seed: int = 0,
    builder: MutantBuilder | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    time_left: Callable[[], float] | None = None,
    line_counts: dict[str, dict[int, int]] | None = None,
    runs: dict[str, frozenset[Function] | None] | None = None,
    prove_survivors: bool = True,
) -> MutationReport:
    """Build `count` mutants and grade each with the suite; the report lists survivors with their diffs.

    Each survivor is then proven equivalent where the compiler makes it the same program; without
    `prove_survivors` that is left to the caller (see prove_equivalent), which may kill some first.

    With `time_left` (seconds left under a wall-time cap), mutants not started before it reaches zero are
    reported as not_run and the report says it was stopped by the wall time. With `line_counts` (file ->
    line -> times the suite ran it, on the coverage build), a mutant on a line the suite never runs
    survives without grading: a run that never reaches the mutated code cannot behave differently. With
    `runs` (case id -> the functions its run executed, None or absent: unknown), a mutant is graded only on
    the cases that run its line's function, and survives ungraded when there are none."""
    started = time.monotonic()
    functions = FunctionMap(target) if runs is not None else None
    builder = builder or MutantBuilder(target)
    sites = choose_sites(target, count, seed)
    progress = on_progress or (lambda phase, done, total: None)
    baselines: dict[str, Path | None] = {}
    baseline_ids: set[str] | None = None
    verdicts: BaselineVerdicts | None = None  # with `runs`: the rebuild is graded only where mutants are
    mutants: list[Mutant] = []
    builds = BuildsAhead(builder, sites)
    try:
        for number, site in enumerate(sites):
            progress("mutants", number, len(sites))
            out_of_time = time_left is not None and time_left() <= 0
            binary = None
            if not out_of_time:
                baselines[site.file], binary = builds.take(number)
            baseline = baselines.get(site.file)
            mutant = Mutant(
                id=f"m{number:03d}",
                file=site.file,
                line=site.line,
                original=site.original,
                replacement=site.replacement,
                status="build_failed",
                diff=_diff(target, site),
                reached=_reached(line_counts, site),
            )
            if out_of_time:
                mutant.status = "not_run"
                mutants.append(mutant)
                continue
            if binary is not None and baseline is not None:
                if runs is not None and verdicts is None:
                    verdicts = BaselineVerdicts(task, baseline, sandbox, workers)
                if runs is None and baseline_ids is None:
                    baseline_ids = passing_ids(task, suite, baseline, sandbox, workers)
                if binary.read_bytes() == baseline.read_bytes():
                    mutant.status = "equivalent"
                    mutant.equivalence = builder.identical_means
                else:
                    failing: list[str] = []
                    if mutant.reached is not False:
                        among = baseline_ids or set()
                        if runs is not None and functions is not None:
                            needed = functions.functions_at(site)
                            among = {case.id for case in suite.cases if may_reach(runs.get(case.id), needed)}
                            if not among:
                                mutant.reached = False
                        failing = first_failures(task, suite, binary, among, sandbox, workers, baseline=verdicts)
                    mutant.status = "killed" if failing else "survived"
                    mutant.killed_by = failing
            mutants.append(mutant)
    finally:
        builds.close()
    if prove_survivors:
        # only a survivor needs the proof, which costs two optimized builds: a killed mutant behaves
        # differently, so no compiler can have made it the same program
        by_id = {mutant.id: site for mutant, site in zip(mutants, sites, strict=True)}
        mutants = marked_equivalent(mutants, prove_equivalent(mutants, by_id, builder, lambda: math.inf))
    progress("mutants", len(sites), len(sites))
    report = MutationReport(
        seed=seed,
        requested=count,
        built=0,
        equivalent=0,
        build_failed=0,
        killed=0,
        survived=0,
        kill_rate=None,
        baseline_cases=verdicts.passing_count() if verdicts is not None else len(baseline_ids or ()),
        seconds=round(time.monotonic() - started, 2),
        stopped_by="wall_time" if any(m.status == "not_run" for m in mutants) else "done",
    )
    return with_mutants(report, mutants)


class BuildsAhead:
    """Builds each mutant (and its file's unmutated rebuild) one step ahead, in a thread of its own: make
    keeps one core busy while the sandboxes grade the mutant before it. One build at a time, as the builder's
    single tree requires; every build of the caller's must go through `take` while this is open."""

    def __init__(self, builder: MutantBuilder, sites: list[Site]) -> None:
        self.builder, self.sites = builder, sites
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mutant-build")
        self._ahead: dict[int, Future[tuple[Path | None, Path | None]]] = {}

    def take(self, index: int) -> tuple[Path | None, Path | None]:
        """The unmutated rebuild of site `index`'s file and the mutant's binary (None: did not build); the
        next site's build starts at once."""
        future = self._ahead.pop(index, None) or self._start(index)
        built = future.result()
        if index + 1 < len(self.sites) and index + 1 not in self._ahead:
            self._ahead[index + 1] = self._start(index + 1)
        return built

    def _start(self, index: int) -> Future[tuple[Path | None, Path | None]]:
        site = self.sites[index]
        return self._thread.submit(lambda: (self.builder.baseline(site.file), self.builder.build(site)))

    def close(self) -> None:
        """Wait for a build still running (make is not stopped halfway: it restores the tree at the end)."""
        self._thread.shutdown(wait=True)


def with_mutants(report: MutationReport, mutants: list[Mutant]) -> MutationReport:
    """`report` with these mutants, and every count and the kill rate taken from them."""
    killed = sum(m.status == "killed" for m in mutants)
    survived = sum(m.status == "survived" for m in mutants)
    return report.model_copy(
        update={
            "mutants": mutants,
            "built": sum(m.status not in ("build_failed", "not_run") for m in mutants),
            "equivalent": sum(m.status == "equivalent" for m in mutants),
            "build_failed": sum(m.status == "build_failed" for m in mutants),
            "killed": killed,
            "survived": survived,
            "kill_rate": round(killed / (killed + survived), 4) if killed + survived else None,
            "not_run": sum(m.status == "not_run" for m in mutants),
            "unreached": sum(m.status == "survived" and m.reached is False for m in mutants),
        }
    )


def marked_equivalent(mutants: list[Mutant], proven: set[str]) -> list[Mutant]:
    """`mutants` with those in `proven` marked equivalent (the same program once optimized)."""
    update = {"status": "equivalent", "equivalence": "identical optimized build"}
    return [m.model_copy(update=update) if m.id in proven else m for m in mutants]


def prove_equivalent(
    mutants: list[Mutant], sites: dict[str, Site], builder: MutantBuilder, time_left: Callable[[], float]
) -> set[str]:
    """The ids of the survivors the compiler proves equivalent (see compiler_proves_equivalent), tried in
    turn while `time_left()` is positive."""
    proven: set[str] = set()
    for mutant in mutants:
        if mutant.status == "survived" and time_left() > 0 and builder.compiler_proves_equivalent(sites[mutant.id]):
            proven.add(mutant.id)
    return proven


def _reached(line_counts: dict[str, dict[int, int]] | None, site: Site) -> bool | None:
    """Whether the suite runs the mutated line; None when unknown (no counts, or a line with no code of its
    own: a declaration, a macro's body, whose code is counted where it is used)."""
    if line_counts is None or site.line not in line_counts.get(site.file, {}):
        return None
    return line_counts[site.file][site.line] > 0


def passing_ids(task: Task, suite: Suite, binary: Path, sandbox: Sandbox, workers: int) -> set[str]:
    """Ids of the cases `binary` passes."""
    results = grade_executable(task, suite, binary, sandbox, workers, env=GCOV_ENV)
    return {result.id for result in results if result.status == TestStatus.passed}


def fingerprints(
    task: Task, specs: list[CaseSpec], executable: Path, sandbox: Sandbox, workers: int
) -> list[bytes | None]:
    """What `executable` does on each input, in brief (a digest of its exit, output streams and output
    files), in `specs` order; None for a run that timed out or that the sandbox failed: it compares with
    nothing. Two binaries of the same program whose digests differ on an input behave differently on it,
    which one run each shows, where recording an expectation takes several runs of the reference."""
    cases = [
        case_for_spec(spec.model_copy(update={"id": f"s{number}", "timeout_s": min(spec.timeout_s, EXPLORE_TIMEOUT_S)}))
        for number, spec in enumerate(specs)
    ]
    digests: dict[str, bytes | None] = {}

    def keep(case_id: str, result: ExecResult) -> None:
        digests[case_id] = None if result.timed_out or result.sandbox_error else _digest(result)

    run_executable(task, cases, executable, sandbox, workers, keep, env=GCOV_ENV)
    return [digests.get(case.id) for case in cases]


def _digest(result: ExecResult) -> bytes:
    digest = hashlib.sha256(repr((result.exit_code, result.signal, result.crash_reason)).encode())
    for stream in (result.stdout, result.stderr):
        digest.update(len(stream).to_bytes(8, "little") + stream)
    for name, content in sorted(result.files.items()):
        if not name.startswith(GCOV_DIR + "/"):
            digest.update(name.encode() + b"\0" + (b"-" if content is None else b"+" + content))
    return digest.digest()


class BaselineVerdicts:
    """Which cases the unmutated rebuild passes, graded only when a mutant is first graded on them: most
    mutants are killed within their first few cases, so the rebuild need not run the whole suite."""

    def __init__(self, task: Task, binary: Path, sandbox: Sandbox, workers: int) -> None:
        self.task, self.binary, self.sandbox, self.workers = task, binary, sandbox, workers
        self.passed: dict[str, bool] = {}

    def passing(self, cases: list[TestCase]) -> list[TestCase]:
        """The cases among `cases` the rebuild passes (grading those it has not run yet)."""
        missing = [case for case in cases if case.id not in self.passed]
        if missing:
            results = grade_executable(
                self.task, Suite(cases=missing), self.binary, self.sandbox, self.workers, env=GCOV_ENV
            )
            self.passed.update((result.id, result.status == TestStatus.passed) for result in results)
        return [case for case in cases if self.passed[case.id]]

    def passing_count(self) -> int:
        return sum(self.passed.values())


def first_failures(
    task: Task,
    suite: Suite,
    binary: Path,
    among: set[str],
    sandbox: Sandbox,
    workers: int,
    enough: int = 3,
    baseline: BaselineVerdicts | None = None,
) -> list[str]:
    """The first few cases of `among` that `binary` fails, graded a chunk at a time (a kill ends early).

    With `baseline`, each chunk is first narrowed to the cases the unmutated rebuild passes."""
    failing: list[str] = []
    cases = [case for case in suite.cases if case.id in among]
    for chunk in _growing_chunks(cases, FIRST_GRADE_CHUNK, GRADE_CHUNK):
        if baseline is not None:
            chunk = baseline.passing(chunk)
            if not chunk:
                continue
        results = grade_executable(task, Suite(cases=chunk), binary, sandbox, workers, env=GCOV_ENV)
        failing.extend(result.id for result in results if result.status != TestStatus.passed)
        if len(failing) >= 1:
            return failing[:enough]
    return failing


def _growing_chunks(items: list[Item], first: int, largest: int) -> Iterator[list[Item]]:
    """Chunks that double from `first` up to `largest`: most kills come early, and a small first chunk ends
    the grading of such a mutant after a few runs instead of a full chunk."""
    start, size = 0, first
    while start < len(items):
        yield items[start : start + size]
        start += size
        size = min(largest, size * 2)


def _diff(target: MutationTarget, site: Site) -> str:
    try:
        lines = (target.source_dir / site.file).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    before = lines[site.line - 1] if site.line <= len(lines) else ""
    text = (target.source_dir / site.file).read_text(encoding="utf-8", errors="replace")
    line_start = text.rfind("\n", 0, site.offset) + 1
    column = site.offset - line_start
    after = before[:column] + site.replacement + before[column + len(site.original) :]
    where = f"{site.file}:{site.line}"
    return "\n".join(difflib.unified_diff([before], [after], f"a/{where}", f"b/{where}", lineterm=""))


def _key(target: MutationTarget, file: str, original: bytes, what: str) -> str:
    digest = hashlib.sha256()
    # the binary make is asked for, and where, are part of what a cached build was built from
    make_dir, make_target = _make_location(target.source_dir, target.binary)
    where = [str(target.binary), str(make_dir), make_target]
    setup = " ".join([*where, *target.make_args, *sorted(f"{k}={v}" for k, v in target.make_env.items())])
    setup += "".join(unit.model_dump_json() for unit in target.rustc_units)
    for part in (file.encode(), original, what.encode(), setup.encode()):
        digest.update(part + b"\0")
    return digest.hexdigest()[:20]


def _slug(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]
