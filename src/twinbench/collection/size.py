"""A task's size: lines of code of the reference's own sources, from its coverage build or its source package.

A coverage build knows which sources were linked into the program, so it is the measure where there is one.
Every other task is measured from its Debian source package: the source files of its language, classified by
the coverage accounting's own classifier (own, vendored, generated, test), and only the own ones counted. A
source package that holds several programs (xz-utils: xz, xzdec, lzmainfo and liblzma) counts them all, so
this measure is an upper bound; `method` says which one a size is.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from pydantic import BaseModel

from twinbench.audit.audit import reference_code_stats
from twinbench.audit.codestats import code_stats
from twinbench.formats import TaskSize
from twinbench.reference import ReferenceError
from twinbench.reference.coverage import load_coverage_build
from twinbench.reference.coverage.accounting import COUNTED_ROLE, SOURCE_SUFFIXES, source_tree_roles
from twinbench.reference.upstream_tests import fetch_source


class SizeMeasurement(BaseModel):
    """A task's size, or why it could not be measured."""

    size: TaskSize | None = None
    problem: str = ""


def coverage_build_size(coverage_dir: Path) -> TaskSize:
    """Code lines of the sources a coverage build linked into the program (and the headers beside them)."""
    build = load_coverage_build(coverage_dir)
    stats = reference_code_stats(coverage_dir)
    return TaskSize(
        lines_of_code=stats.code_lines,
        method="coverage-build",
        source=f"coverage build of {build.package} {build.version}",
        files_by_role={COUNTED_ROLE: stats.files},
    )


def source_tree_size(tree: Path, language: str, what: str) -> TaskSize:
    """Code lines of the own source files of LANGUAGE in an unpacked source tree; WHAT names the tree."""
    roles = source_tree_roles(tree, language)
    own = [Path(rel) for rel, role in roles.items() if role == COUNTED_ROLE]
    stats = code_stats(tree, only=own)
    return TaskSize(
        lines_of_code=stats.code_lines,
        method="source-package",
        source=what,
        files_by_role=dict(sorted(Counter(roles.values()).items())),
    )


def source_package_size(package: str, language: str, cache: Path) -> SizeMeasurement:
    """The size of an installed package's program from its Debian source package (fetched into CACHE once)."""
    if language.lower() not in SOURCE_SUFFIXES:
        return SizeMeasurement(problem=f"no source files are known for {language}")
    tree = fetch_source(package, cache)
    if tree.path is None:
        return SizeMeasurement(problem=tree.error or f"no source package of {package}")
    size = source_tree_size(tree.path, language, f"source package {tree.package} {tree.version}")
    if size.lines_of_code == 0:
        return SizeMeasurement(problem=f"source package {tree.package} {tree.version} has no own {language} sources")
    return SizeMeasurement(size=size)


def measure_size(package: str, language: str, coverage_dir: Path | None, source_cache: Path) -> SizeMeasurement:
    """From the coverage build when the task has one, else from the source package; never raises."""
    if coverage_dir is not None:
        try:
            return SizeMeasurement(size=coverage_build_size(coverage_dir))
        except ReferenceError as exc:
            return SizeMeasurement(problem=str(exc))
    try:
        return source_package_size(package, language, source_cache)
    except OSError as exc:
        return SizeMeasurement(problem=f"reading the source package of {package}: {exc}")
