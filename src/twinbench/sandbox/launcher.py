"""Build (once, cached) the small C helpers of the sandboxes: the launcher and the reference's uid dropper."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LAUNCHER_SOURCE = Path(__file__).with_name("launcher.c")
DROPPER_SOURCE = Path(__file__).with_name("dropuid.c")


def cache_dir() -> Path:
    """Where built helpers are kept: $XDG_CACHE_HOME/twinbench or ~/.cache/twinbench."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "twinbench"


def ensure_launcher() -> Path | None:
    """The launcher binary, compiled on first use; None when no C compiler can build it (slower fallback)."""
    return _ensure_built(LAUNCHER_SOURCE, "launcher", [["-static"], []])


def ensure_dropper() -> Path | None:
    """The preloadable library that drops a reference from root to its uid before main; None without gcc."""
    return _ensure_built(DROPPER_SOURCE, "dropuid.so", [["-shared", "-fPIC"]])


def ensure_helper(source_path: Path, name: str, flag_choices: list[list[str]]) -> Path | None:
    """Any small C helper, compiled once into the cache (keyed by its source's hash); None without a compiler."""
    return _ensure_built(source_path, name, flag_choices)


def ensure_static_helper(source_path: Path, name: str) -> Path | None:
    """Another small C helper of the sandboxes (a shim, say), built like the launcher; None without gcc."""
    return ensure_helper(source_path, name, [["-static"], []])


def _ensure_built(source_path: Path, name: str, flag_choices: list[list[str]]) -> Path | None:
    """Compile `source_path` with the first flags that work, keyed by the source's hash so edits rebuild."""
    source = source_path.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    stem, dot, suffix = name.partition(".")
    target = cache_dir() / f"{stem}-{digest}{dot}{suffix}"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / name
        for flags in flag_choices:
            result = subprocess.run(
                [compiler, "-O2", *flags, "-o", str(built), str(source_path)],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                built.chmod(0o755)
                os.replace(built, target)  # atomic, so concurrent first uses never see half a file
                return target
    return None
