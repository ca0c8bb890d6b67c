"""Build (once, cached) the small static C launcher that makes each sandboxed run cheap to start."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

LAUNCHER_SOURCE = Path(__file__).with_name("launcher.c")


def cache_dir() -> Path:
    """Where built helpers are kept: $XDG_CACHE_HOME/twinbench or ~/.cache/twinbench."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "twinbench"


def ensure_launcher() -> Path | None:
    """The launcher binary, compiled on first use; None when no C compiler can build it (slower fallback)."""
    source = LAUNCHER_SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = cache_dir() / f"launcher-{digest}"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
        built = Path(scratch) / "launcher"
        for flags in (["-static"], []):
            result = subprocess.run(
                [compiler, "-O2", *flags, "-o", str(built), str(LAUNCHER_SOURCE)],
                capture_output=True,
                check=False,
            )
            if result.returncode == 0:
                built.chmod(0o755)
                os.replace(built, target)  # atomic, so concurrent first uses never see half a file
                return target
    return None
