"""A program whose code lives in a shared library of the same source (jq and libjq1): the instrumented library is
what runs, on the host and in the sandbox, and its sources count as the program's own."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from twinbench.reference.coverage import CoverageBuild, features_of, guidance_settings, line_coverage
from twinbench.reference.coverage.gcov import COVERAGE_FLAGS, object_layout, own_libraries, verify_gcov_prefix
from twinbench.reference.coverage.measure import own_sources
from twinbench.sandbox import WORK_DIR, ExecRequest, SessionConfig, get_sandbox
from twinbench.testgen.explore import GCOV_DIR, LIBRARY_DIR, CoverageGuide, stage_coverage_build

LIB_C = """
#include <string.h>
int toy_count(const char *s) {
    int n = 0;
    for (; *s; s++)
        if (*s == '!')
            n++;
    return n;
}
int toy_unused(int x) { return x * 3 + 1; }
"""

MAIN_C = """
#include <stdio.h>
#include <string.h>
int toy_count(const char *s);
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) { puts("toy 1.0"); return 0; }
    int total = 0;
    for (int i = 1; i < argc; i++) total += toy_count(argv[i]);
    printf("%d\\n", total);
    return 0;
}
"""

LIBDIR = "usr/lib/x86_64-linux-gnu"


@pytest.fixture(scope="module")
def split_build(tmp_path_factory: pytest.TempPathFactory) -> CoverageBuild:
    """A source tree laid out as dpkg-buildpackage leaves it: debian/toy/usr/bin/toy and the instrumented
    debian/libtoy1/.../libtoy.so.1; an uninstrumented "system" libtoy.so.1 is what ldd finds (jq's case)."""
    root = tmp_path_factory.mktemp("split")
    source = root / "toy-1"
    source.mkdir()
    (source / "lib.c").write_text(LIB_C)
    (source / "main.c").write_text(MAIN_C)
    system = root / "system"
    system.mkdir()
    flags = COVERAGE_FLAGS.split()

    def cc(*args: str, cwd: Path = source) -> None:
        subprocess.run(["gcc", *args], cwd=cwd, check=True, capture_output=True)

    cc("-shared", "-fPIC", "-Wl,-soname,libtoy.so.1", "-o", str(system / "libtoy.so.1"), str(source / "lib.c"))
    cc(*flags, "-fPIC", "-c", "lib.c", "-o", "lib.o")
    cc(*flags, "-c", "main.c", "-o", "main.o")
    cc("--coverage", "-shared", "-Wl,-soname,libtoy.so.1", "-o", "libtoy.so.1", "lib.o")
    (source / "libtoy.so").symlink_to("libtoy.so.1")
    cc("--coverage", "-o", "toy", "main.o", "-L.", "-ltoy", f"-Wl,-rpath,{system}")
    cc("--coverage", "-o", "toy-bare", "main.o", "-L.", "-ltoy")
    for package, directory, name in (("libtoy1", LIBDIR, "libtoy.so.1"), ("toy", "usr/bin", "toy")):
        (source / "debian" / package / directory).mkdir(parents=True)
        shutil.copy2(source / name, source / "debian" / package / directory / name)
    shutil.copy2(source / "toy-bare", source / "debian" / "toy" / "usr/bin" / "toy-bare")
    for stale in source.glob("*.gcda"):
        stale.unlink()
    exe = source / "debian" / "toy" / "usr/bin" / "toy"
    libraries = own_libraries(exe, source)
    prefix, strip, gcda_files = object_layout(exe, source, libraries)
    build = CoverageBuild(
        package="toy",
        version="1",
        source_dir=source,
        binary=exe,
        object_dir_prefix=prefix,
        strip_components=strip,
        gcda_files=verify_gcov_prefix(exe, prefix, strip, gcda_files, libraries),
        source_files=[],
        libraries=libraries,
    )
    build.source_files, build.language = own_sources(build)
    return build


def test_the_build_finds_its_own_library_even_when_the_system_lacks_it(split_build: CoverageBuild) -> None:
    source = split_build.source_dir
    expected = [source / "debian" / "libtoy1" / LIBDIR / "libtoy.so.1"]
    assert split_build.libraries == expected
    assert own_libraries(source / "debian" / "toy" / "usr/bin" / "toy-bare", source) == expected  # ldd: not found
    assert split_build.gcda_files == ["lib.gcda", "main.gcda"]  # the library's counters are written too
    assert split_build.source_files == ["lib.c", "main.c"]  # and its sources are the program's own


def test_line_coverage_counts_the_instrumented_librarys_lines(split_build: CoverageBuild) -> None:
    def run_all(env_extra: dict[str, str]) -> None:
        subprocess.run([str(split_build.binary), "a!", "b"], env={**os.environ, **env_extra}, check=True)

    report = line_coverage(split_build, run_all)
    files = {entry.file: entry for entry in report.files}
    assert files["lib.c"].role == "own" and files["lib.c"].lines_covered >= 4
    assert 0 < files["lib.c"].lines_covered < files["lib.c"].lines_total  # toy_unused never ran


def test_sandboxed_runs_load_the_staged_library_and_read_back_its_counters(
    split_build: CoverageBuild, tmp_path: Path
) -> None:
    env, collect, files = guidance_settings(split_build, f"{WORK_DIR}/{GCOV_DIR}", f"{WORK_DIR}/{LIBRARY_DIR}")
    assert env["LD_LIBRARY_PATH"] == f"{WORK_DIR}/{LIBRARY_DIR}"
    guide = CoverageGuide(
        binary=split_build.binary,
        strip_components=split_build.strip_components,
        gcda_files=split_build.gcda_files,
        env=env,
        collect=collect,
        files=files,
        libraries=split_build.libraries,
    )
    tree = tmp_path / "tree"
    tree.mkdir()
    stage_coverage_build(guide, tree)
    features = {}
    with get_sandbox("bwrap").open(SessionConfig(tree=tree)) as session:
        for args in (["-v"], ["a!", "b!!"]):
            request = ExecRequest(
                argv=["./executable", *args], env={"PATH": "/usr/bin:/bin", **env}, collect=collect, files=files
            )
            result = session.run(request)
            assert result.exit_code == 0, result
            assert result.files.get(f"{GCOV_DIR}/lib.gcda")  # the instrumented copy ran, not the system's
            features[args[0]] = {name for name, _ident, _index in features_of(result.files)}
    assert f"{GCOV_DIR}/lib.gcda" in features["a!"]  # toy_count's edges guide generation
