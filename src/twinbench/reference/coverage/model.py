"""What a coverage build is: the model written to coverage-build.json, and its one error type."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from twinbench.formats import first_error
from twinbench.reference.debian import ReferenceError

BUILD_JSON = "coverage-build.json"
BUILD_LOG = "coverage-build.log"

Toolchain = Literal["gcc", "llvm", "go"]


class CoverageBuildError(ReferenceError):
    """The coverage build cannot be made or measured (a failed build, missing tools); one line for the user."""


class CoverageBuildInputError(CoverageBuildError):
    """What the user asked for is wrong: not a package name, a path for --binary, an unreadable build dir.

    Its own type, so the CLI's one exception table can tell the user's mistake (exit 2) from a build that
    failed (exit 3), while every `except CoverageBuildError` in the library still catches both.
    """


class CoverageBuild(BaseModel):
    """A reference executable built from its Debian source with coverage counters, and where its counters go.

    `toolchain` says how the counters are written and read back: gcc (--coverage, .gcda files under
    GCOV_PREFIX), llvm (rustc -C instrument-coverage, a .profraw under LLVM_PROFILE_FILE) or go
    (go build -cover, covcounters files under GOCOVERDIR).
    """

    package: str
    version: str
    source_dir: Path
    binary: Path
    object_dir_prefix: str
    strip_components: int
    gcda_files: list[str]
    source_files: list[str]
    toolchain: Toolchain = "gcc"
    language: str = "c"
    tools: dict[str, str] = Field(default_factory=dict, description="read-back tools, e.g. llvm-profdata, go")
    import_path: str = Field(default="", description="Go: the import path of the program's main package tree")
    build_seconds: float = 0.0
    build_cpu_seconds: float = Field(
        default=0.0, description="CPU time of the build's processes (a shared machine's wall time varies)"
    )
    build_log: str = ""


def load_coverage_build(directory: Path) -> CoverageBuild:
    """Read DIRECTORY/coverage-build.json written by coverage_build."""
    path = Path(directory) / BUILD_JSON
    try:
        return CoverageBuild.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise CoverageBuildInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except ValidationError as exc:
        raise CoverageBuildInputError(f"{path}: {first_error(exc, top='file')}") from None
