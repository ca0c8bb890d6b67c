"""Debian packages as references: resolve the binary and list every file that must stay hidden."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

from twinbench.formats import ReferenceSpec


class ReferenceError(Exception):
    """The reference program cannot be found; the message is one line for the user."""


def resolve_binary(binary: str) -> Path:
    """The real file behind a command name or path, with symlinks (and Debian alternatives) resolved."""
    found = binary if "/" in binary else shutil.which(binary)
    if found is None or not os.path.exists(found):
        raise ReferenceError(f"reference program {binary!r} is not installed")
    real = Path(found).resolve()
    if not os.access(real, os.X_OK):
        raise ReferenceError(f"reference program {real} is not executable")
    return real


# where dpkg keeps each package's file list (PACKAGE[:ARCH].list)
DPKG_INFO = Path("/var/lib/dpkg/info")


@functools.cache
def package_entries(package: str) -> tuple[Path, ...]:
    """Every path a Debian package lists, directories included, from `dpkg -L`."""
    result = _dpkg(["dpkg-query", "-L", package])
    if result is None:
        return ()
    return tuple(Path(line) for line in result.splitlines() if line.startswith("/"))


def package_files(package: str) -> tuple[Path, ...]:
    """Every regular file (or symlink) installed by a Debian package."""
    return tuple(path for path in package_entries(package) if not path.is_dir())


@functools.cache
def exclusive_dirs(packages: tuple[str, ...]) -> tuple[Path, ...]:
    """The topmost directories that only `packages` list: everything in them is theirs, including what no
    file list names. Python packages are the common case: their maintainer scripts compile __pycache__/*.pyc
    after installation, and that bytecode is the program as surely as its .py files are."""
    ours = {
        str(path)
        for package in packages
        for path in package_entries(package)
        if path.is_dir() and not path.is_symlink()
    }
    if not ours:
        return ()
    try:
        lists = [path for path in DPKG_INFO.iterdir() if path.suffix == ".list"]
    except OSError:
        return ()  # no dpkg database to ask: the files dpkg -L names are still hidden one by one
    shared: set[str] = set()
    for listing in lists:
        if listing.stem.split(":")[0] in packages:
            continue
        try:
            lines = listing.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
        except OSError:
            return ()  # cannot tell shared from exclusive: claim nothing
        shared.update(normal for normal in map(os.path.normpath, lines) if normal in ours)
    exclusive = {Path(line) for line in ours - shared}
    return tuple(sorted(path for path in exclusive if not any(parent in exclusive for parent in path.parents)))


@functools.cache
def package_owning(path: str) -> str | None:
    """The installed package that owns a path, from `dpkg -S`."""
    result = _dpkg(["dpkg-query", "-S", path])
    if not result:
        return None
    return result.splitlines()[0].split(":")[0].split(",")[0].strip()


@functools.cache
def sibling_packages(package: str) -> tuple[str, ...]:
    """Installed packages built from the same source package (jq's libjq1, say), the package included."""
    listing = _dpkg(["dpkg-query", "-W", "-f", "${Package} ${source:Package} ${db:Status-Status}\n"])
    if listing is None:
        return (package,)
    source_of: dict[str, str] = {}
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "installed":
            source_of[parts[0]] = parts[1]
    source = source_of.get(package)
    if source is None:
        return (package,)
    return tuple(sorted(name for name, src in source_of.items() if src == source))


def hidden_paths_for(reference: ReferenceSpec) -> tuple[Path, ...]:
    """Everything a candidate must not see: the resolved binary, and all files of its source package."""
    paths: set[Path] = {Path(p) for p in reference.hidden_paths}
    try:
        paths.add(resolve_binary(reference.binary))
    except ReferenceError:
        pass  # not installed here: nothing of it can leak
    if reference.debian_package:
        siblings = sibling_packages(reference.debian_package)
        for package in siblings:
            paths.update(package_files(package))
        paths.update(exclusive_dirs(siblings))
    return tuple(sorted(paths))


def stage_reference(binary: Path, tree: Path, name: str = "executable") -> None:
    """Put the reference in a sandbox tree as ./executable: a link when the sandbox sees the system copy."""
    from twinbench.sandbox.bwrap import SYSTEM_DIRS

    visible = any(binary.is_relative_to(Path(top).resolve()) for top in SYSTEM_DIRS if Path(top).is_dir())
    if visible:
        (tree / name).symlink_to(binary)
    else:
        # a program outside the system dirs (a --binary-path task) is not visible in the sandbox
        shutil.copy2(binary, tree / name)


def _dpkg(argv: list[str]) -> str | None:
    if shutil.which(argv[0]) is None:
        return None
    try:
        result = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None
