"""Build a Debian package with coverage counters through its own debian/rules (dpkg-buildpackage).

Debian already knows how to build every package it ships: autotools with regenerated files, CMake, Meson,
plain Makefiles, cargo and Go. So the coverage build runs `dpkg-buildpackage -B` on exactly the installed
version's source and only adds what instruments it: gcc/g++ --coverage through DEB_*FLAGS_APPEND (and compiler
wrappers that append them last, for rules that ignore dpkg-buildflags), rustc -C instrument-coverage through
RUSTFLAGS (read by Debian's cargo wrapper), or go build -cover through GOFLAGS.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from twinbench.reference.coverage import apt, gcov, golang, llvm
from twinbench.reference.coverage.apt import BuildRunner
from twinbench.reference.coverage.measure import own_sources
from twinbench.reference.coverage.model import (
    BUILD_JSON,
    BUILD_LOG,
    CoverageBuild,
    CoverageBuildError,
    CoverageBuildInputError,
    Toolchain,
)

PACKAGE_NAME = re.compile(r"[a-z0-9][a-z0-9+.-]+")  # Debian policy 5.6.1 (binary and source names)
CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"  # Debian's toolchain, never a rustup or /usr/local one
_BIN_DIRS = ("usr/bin", "bin", "usr/sbin", "sbin", "usr/games")
BUILD_LOCK = ".coverage-build.lock"
_C_COMPILERS = ("gcc", "cc", "g++", "c++", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-g++", "gcc-12", "g++-12")


def coverage_build(
    package: str,
    out_dir: Path,
    binary: str | None = None,
    log: Callable[[str], None] | None = None,
    jobs: int = 2,
) -> CoverageBuild:
    """Fetch PKG's Debian source (exactly the installed version), build it with coverage, describe the result."""
    say = log or (lambda _message: None)
    if not PACKAGE_NAME.fullmatch(package):
        raise CoverageBuildInputError(f"{package!r} is not a Debian package name")
    if binary is not None and (not binary or "/" in binary or binary in (".", "..")):
        raise CoverageBuildInputError(f"--binary {binary!r}: give a command name, not a path")
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    log_path = out_dir / BUILD_LOG
    started, cpu_started = time.monotonic(), _children_cpu()
    with _only_build_in(out_dir), open(log_path, "w", encoding="utf-8") as logfile:
        runner = BuildRunner(logfile, log_path, say)
        source_dir, version = _prepare(runner, package, out_dir)
        toolchain = _toolchain_of(source_dir)
        env, tools = _build_env(runner, toolchain, out_dir, jobs)
        say(f"dpkg-buildpackage -B ({toolchain}, {jobs} jobs)")
        runner.run(["dpkg-buildpackage", "-B", "-uc", "-us"], cwd=source_dir, env=env, what="dpkg-buildpackage")
        exe = _find_binary(runner, source_dir, binary or _default_binary(package, source_dir))
        build = _describe(runner, package, version, source_dir, exe, toolchain, tools)
    build.build_seconds = round(time.monotonic() - started, 1)
    build.build_cpu_seconds = round(_children_cpu() - cpu_started, 1)
    build.build_log = str(log_path)
    tmp = out_dir / (BUILD_JSON + ".tmp")
    tmp.write_text(build.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(out_dir / BUILD_JSON)
    say(f"built {exe} in {build.build_seconds:.0f}s ({len(build.source_files)} own source files)")
    return build


@contextmanager
def _only_build_in(out_dir: Path) -> Iterator[None]:
    """Hold out_dir's lock for the whole build: a second build into the same directory would delete the first
    one's source tree under it (apt-get source unpacks afresh), so it is refused instead."""
    with open(out_dir / BUILD_LOCK, "a", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CoverageBuildError(
                f"another coverage-build is writing {out_dir} now: wait for it or give another -o"
            ) from None
        yield


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _prepare(runner: BuildRunner, package: str, out_dir: Path) -> tuple[Path, str]:
    """deb-src entries, the exact source version unpacked, and its build dependencies installed."""
    apt.ensure_deb_src(runner, package)
    runner.apt_install(["dpkg-dev", "build-essential", "fakeroot"])
    source, versions = apt.source_versions(package)
    installed = apt.installed_source(package)
    if installed is not None and installed[0] != source:
        source, versions = apt.source_versions(installed[0])
    mismatch = installed is not None and installed[1] not in versions and bool(versions)
    upgrade = apt.matching_upgrade(source, versions) if mismatch else None
    try:
        version = apt.choose_version(package, installed[1] if installed else None, versions, upgrade)
    except CoverageBuildError as exc:
        raise runner.fail(str(exc)) from None
    if installed is None:
        runner.say(f"{package} is not installed: building the newest source, {source} {version}")
    source_dir = apt.fetch_source(runner, source, version, out_dir)
    runner.say(f"apt-get build-dep {source}={version}: installing its build dependencies")
    runner.run(
        [*apt.apt_prefix(), "apt-get", "build-dep", "-y", *apt.APT_LOCK, str(source_dir)], what="apt-get build-dep"
    )
    return source_dir, version


def _toolchain_of(source_dir: Path) -> Toolchain:
    """gcc, llvm (Rust) or go, from the build dependencies debian/control declares."""
    control = (source_dir / "debian" / "control").read_text(encoding="utf-8", errors="replace")
    source_stanza = re.split(r"\n\s*\n", control, maxsplit=1)[0]
    depends = " ".join(re.findall(r"^Build-Depends(?:-Arch)?:((?:.*\n?)(?:[ \t].*\n?)*)", source_stanza, re.M))
    names = set(re.findall(r"(?:^|[\s,|])([a-z0-9][a-z0-9+.-]+)", depends))
    if names & {"dh-cargo", "cargo", "rustc"}:
        return "llvm"
    if "dh-golang" in names or "golang-go" in names or "golang-any" in names:
        return "go"
    return "gcc"


def _build_env(
    runner: BuildRunner, toolchain: Toolchain, out_dir: Path, jobs: int
) -> tuple[dict[str, str], dict[str, str]]:
    """The whole environment of dpkg-buildpackage (nothing inherited but what Debian's builds need)."""
    env = {
        "PATH": CLEAN_PATH,
        "HOME": str(out_dir),
        "LANG": "C.UTF-8",
        "DEB_BUILD_OPTIONS": f"nostrip noopt nocheck parallel={max(1, jobs)}",
        # an instrumented shared library exports gcov's own symbols (__gcov_error_file): a package with a
        # symbols file (luajit's libluajit-5.1-2) would fail dh_makeshlibs for symbols it does not promise.
        # A make variable given in MAKEFLAGS counts as given on the command line, so it also beats a
        # debian/rules that exports its own level (luajit's `export DPKG_GENSYMBOLS_CHECK_LEVEL=4`)
        "DPKG_GENSYMBOLS_CHECK_LEVEL": "0",
        "MAKEFLAGS": "DPKG_GENSYMBOLS_CHECK_LEVEL=0",
    }
    tools: dict[str, str] = {}
    if toolchain == "gcc":
        env["PATH"] = f"{_compiler_wrappers(out_dir)}:{CLEAN_PATH}"
        for variable in ("DEB_CFLAGS_APPEND", "DEB_CXXFLAGS_APPEND"):
            env[variable] = gcov.COVERAGE_FLAGS
        env["DEB_LDFLAGS_APPEND"] = "--coverage"
        tools["gcov"] = "gcov"
    elif toolchain == "llvm":
        rust_env, tools = llvm.rust_toolchain(runner, out_dir)
        env.update(rust_env)
    else:
        go_env, tools = golang.go_toolchain(runner)
        env["PATH"] = f"{go_env['PATH_PREPEND']}:{CLEAN_PATH}"
        env["GOFLAGS"] = go_env["GOFLAGS"]
    return env, tools


def _compiler_wrappers(out_dir: Path) -> Path:
    # The flags come after the build's own, so -O0 beats a hard-coded -O2 and --coverage reaches every compile
    # and link line even where debian/rules ignores dpkg-buildflags.
    wrappers = out_dir / "compiler-wrappers"
    wrappers.mkdir(exist_ok=True)
    for name in _C_COMPILERS:
        real = next((Path(d, name) for d in CLEAN_PATH.split(":") if Path(d, name).exists()), None)
        if real is None:
            continue
        script = wrappers / name
        script.write_text(f'#!/bin/sh\nexec {real} "$@" {gcov.COVERAGE_FLAGS}\n', encoding="utf-8")
        script.chmod(0o755)
    return wrappers


def _default_binary(package: str, source_dir: Path) -> str:
    """The command to instrument when none is named: the package's name, or its only command (ripgrep: rg)."""
    listed = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, errors="replace", check=False)
    commands = {
        PurePosixPath(line).name
        for line in listed.stdout.splitlines()
        if str(PurePosixPath(line).parent).lstrip("/") in _BIN_DIRS
    }
    if not commands:  # not installed: what the build put into the binary package of that name
        commands = {p.name for d in _BIN_DIRS for p in (source_dir / "debian" / package / d).glob("*") if p.is_file()}
    return package if package in commands or len(commands) != 1 else commands.pop()


def _find_binary(runner: BuildRunner, source_dir: Path, name: str) -> Path:
    """The executable NAME as Debian's packaging installed it under debian/<binary package>/.

    An installed command that is an alternatives link (figlet -> figlet-figlet) is looked for by its target too.
    """
    names = [name]
    installed = shutil.which(name, path=CLEAN_PATH)
    if installed is not None and os.path.basename(os.path.realpath(installed)) != name:
        names.append(os.path.basename(os.path.realpath(installed)))
    found: list[Path] = []
    for package_dir in sorted(p for p in (source_dir / "debian").iterdir() if p.is_dir()):
        for bin_dir, wanted in itertools.product(_BIN_DIRS, names):
            candidate = package_dir / bin_dir / wanted
            if candidate.is_file() and not candidate.is_symlink() and os.access(candidate, os.X_OK):
                found.append(candidate)
    if not found:
        shipped = sorted(
            {p.name for p in (source_dir / "debian").glob("*/usr/bin/*")}
            | {p.name for p in (source_dir / "debian").glob("*/bin/*")}
        )
        hint = f"; it ships {', '.join(shipped[:12])} (pick one with --binary)" if shipped else ""
        raise runner.fail(f"the build of {source_dir.name} installed no executable named {name!r}{hint}")
    # debian/tmp is the staging area; a binary package's own directory is what Debian ships
    found.sort(key=lambda p: (p.relative_to(source_dir / "debian").parts[0] == "tmp", len(p.parts), str(p)))
    return found[0].resolve()


def _describe(
    runner: BuildRunner,
    package: str,
    version: str,
    source_dir: Path,
    exe: Path,
    toolchain: Toolchain,
    tools: dict[str, str],
) -> CoverageBuild:
    """Check that the executable writes its counters where guidance reads them, and list its sources."""
    try:
        libraries = gcov.own_libraries(exe, source_dir)
        if libraries:
            runner.say(f"{exe.name} loads {', '.join(p.name for p in libraries)} of this build: instrumented too")
        if toolchain == "gcc":
            prefix, strip, gcda_files = gcov.object_layout(exe, source_dir, libraries)
            runner.say(f"checking that {exe.name} writes its counters under GCOV_PREFIX")
            counters = gcov.verify_gcov_prefix(exe, prefix, strip, gcda_files, libraries)
        elif toolchain == "llvm":
            prefix, strip, counters = str(source_dir), 0, llvm.verify_profile(exe, libraries)
        else:
            golang.verify_coverdir(exe)
            prefix, strip, counters = str(source_dir), 0, []
        build = CoverageBuild(
            package=package,
            version=version,
            source_dir=source_dir,
            binary=exe,
            object_dir_prefix=prefix,
            strip_components=strip,
            gcda_files=counters,
            source_files=[],
            toolchain=toolchain,
            tools=tools,
            import_path=_go_import_path(source_dir) if toolchain == "go" else "",
            libraries=libraries,
        )
        build.source_files, build.language = own_sources(build)
    except CoverageBuildError as exc:
        raise runner.fail(str(exc)) from None
    return build


def _go_import_path(source_dir: Path) -> str:
    control = (source_dir / "debian" / "control").read_text(encoding="utf-8", errors="replace")
    match = re.search(r"^XS-Go-Import-Path:\s*(\S+)", control, flags=re.MULTILINE)
    return match.group(1).rstrip(",") if match else ""
