"""The reference rebuilt from its Debian source with coverage counters (C/C++, Rust, Go), and read back.

Stages, one module each: `apt` (deb-src, the exact installed source version, build dependencies), `build`
(dpkg-buildpackage with the toolchain's coverage flags), `gcov` / `llvm` / `golang` (each toolchain's
counters), `accounting` (own, vendored, dependency and generated files), `measure` (features and reports).
"""

from twinbench.reference.coverage.build import coverage_build
from twinbench.reference.coverage.gcov import parse_gcda
from twinbench.reference.coverage.measure import covered_lines, features_of, guidance_settings, line_coverage
from twinbench.reference.coverage.model import (
    BUILD_JSON,
    BUILD_LOG,
    CoverageBuild,
    CoverageBuildError,
    CoverageBuildInputError,
    load_coverage_build,
)

__all__ = [
    "BUILD_JSON",
    "BUILD_LOG",
    "CoverageBuild",
    "CoverageBuildError",
    "CoverageBuildInputError",
    "coverage_build",
    "covered_lines",
    "features_of",
    "guidance_settings",
    "line_coverage",
    "load_coverage_build",
    "parse_gcda",
]
