"""Coverage builds of real Debian sources through debian/rules (figlet, bc, lscolors, gron), .gcda parsing, lines."""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from twinbench.reference.coverage import (
    BUILD_JSON,
    BUILD_LOG,
    CoverageBuild,
    CoverageBuildError,
    coverage_build,
    features_of,
    line_coverage,
    load_coverage_build,
    parse_gcda,
)

can_use_apt = shutil.which("apt-get") is not None and (
    os.geteuid() == 0 or subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False).returncode == 0
)
needs_apt = pytest.mark.skipif(not can_use_apt, reason="coverage builds need apt-get as root or passwordless sudo")
CACHE = Path.home() / ".cache" / "twinbench" / "coverage"


def mirror_reachable() -> bool:
    """Whether the first Debian mirror apt is configured with answers (coverage builds fetch sources from it)."""
    from urllib.parse import urlsplit

    from twinbench.reference.coverage.apt import _apt_entries

    for _types, uri, _suite, _components, _options in _apt_entries():
        parts = urlsplit(uri)
        if parts.hostname and ("debian" in uri or "ubuntu" in uri):
            try:
                socket.create_connection(
                    (parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)), 5
                ).close()
                return True
            except OSError:
                return False
    return False


def cached_build(package: str, binary: str | None = None) -> CoverageBuild:
    """A coverage build of PKG, made once per installed version under ~/.cache/twinbench/coverage."""
    if not can_use_apt:
        pytest.skip("coverage builds need apt-get as root or passwordless sudo")
    from twinbench.reference.coverage.apt import installed_source

    installed = installed_source(package)
    out = CACHE / f"{package}-{installed[1] if installed else 'newest'}"
    if (out / BUILD_JSON).is_file():
        build = load_coverage_build(out)
        if build.binary.is_file():
            return build
    if not mirror_reachable():
        pytest.skip("the Debian mirror is unreachable: coverage builds need its sources")
    started = time.perf_counter()
    try:
        build = coverage_build(package, out, binary)
    except CoverageBuildError as exc:
        if "the mirror lacks the source files" in str(exc):
            pytest.skip(str(exc))
        log = (out / BUILD_LOG).read_text(errors="replace") if (out / BUILD_LOG).exists() else ""
        pytest.fail(f"{exc}\n--- build log tail ---\n{log[-3000:]}")
    print(f"{package} coverage build: {time.perf_counter() - started:.1f}s")
    return build


# Ten hand-picked figlet command lines (context.md: such a set reaches about a third of figlet's lines).
FIGLET_LINES: list[list[str]] = [
    ["hi"],
    ["-f", "slant", "hello"],
    ["-c", "-f", "banner", "x"],
    ["-v"],
    ["-I2"],
    ["-r", "-w", "40", "hello world"],
    ["-k", "ab"],
    ["-S", "ab"],
    ["-p", "-x", "a b c"],
    ["-L", "-t", "x"],
]


def run_with_prefix(build: CoverageBuild, args: list[str], prefix: Path, stdin: bytes = b"") -> dict[str, bytes | None]:
    """Run the instrumented binary with its counters redirected under `prefix`; return every gcda it may write."""
    env = {**os.environ, "GCOV_PREFIX": str(prefix), "GCOV_PREFIX_STRIP": str(build.strip_components)}
    subprocess.run([str(build.binary), *args], env=env, input=stdin, capture_output=True, timeout=30, check=False)
    return {rel: (prefix / rel).read_bytes() if (prefix / rel).exists() else None for rel in build.gcda_files}


def suite_runner(build: CoverageBuild, cases: list[tuple[list[str], bytes]]) -> Callable[[dict[str, str]], None]:
    """A run_all for line_coverage: every case, run on the host with env_extra added."""

    def run_all(env_extra: dict[str, str]) -> None:
        for args, stdin in cases:
            env = {**os.environ, **env_extra}
            subprocess.run([str(build.binary), *args], env=env, input=stdin, capture_output=True, timeout=30)

    return run_all


@pytest.fixture(scope="session")
def figlet_build() -> CoverageBuild:
    """figlet built through its debian/rules with gcc --coverage (cached per version)."""
    return cached_build("figlet")


# --------------------------------------------------------------------------------------------- parse_gcda, fast

TOY_C = textwrap.dedent(
    """
    #include <stdio.h>
    #include <string.h>
    static int never_called(int x) { return x * 3 + 1; }
    static int shout(const char *s) { int n = 0; for (; *s; s++) if (*s == '!') n++; return n; }
    int main(int argc, char **argv) {
        if (argc > 1 && strcmp(argv[1], "-v") == 0) { puts("toy 1.0"); return 0; }
        int total = 0;
        for (int i = 1; i < argc; i++) total += shout(argv[i]);
        if (argc > 100) total += never_called(argc);
        printf("%d\\n", total);
        return 0;
    }
    """
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny program compiled with gcc --coverage: real .gcda files in seconds, without apt."""
    directory = tmp_path_factory.mktemp("toy")
    (directory / "toy.c").write_text(TOY_C)
    subprocess.run(["gcc", "--coverage", "-O0", "-g", "-o", "toy", "toy.c"], cwd=directory, check=True)
    return directory


def toy_gcda(toy: Path, args: list[str], prefix: Path) -> bytes:
    """Run the toy with its counters redirected under prefix and return its one .gcda."""
    strip = len(toy.parts) - 1
    env = {**os.environ, "GCOV_PREFIX": str(prefix), "GCOV_PREFIX_STRIP": str(strip)}
    subprocess.run([str(toy / "toy"), *args], env=env, capture_output=True, check=True)
    return (prefix / "toy.gcda").read_bytes()


def test_parse_gcda_sees_different_edges_for_different_runs(toy: Path, tmp_path: Path) -> None:
    version = parse_gcda(toy_gcda(toy, ["-v"], tmp_path / "a"))
    loop = parse_gcda(toy_gcda(toy, ["a!", "b!!"], tmp_path / "b"))
    assert version and loop
    assert version != loop
    assert len({ident for ident, _ in loop}) > len({ident for ident, _ in version})  # shout() ran only in `loop`
    assert parse_gcda(toy_gcda(toy, ["x!", "yy"], tmp_path / "c")) == loop  # same path, same features


def test_parse_gcda_reads_zeroed_counter_records(toy: Path, tmp_path: Path) -> None:
    data = toy_gcda(toy, ["-v"], tmp_path)
    assert data[:4] == b"adcg"  # magic 0x67636461, little-endian
    # gcc 12 writes never_called()'s all-zero arcs as a record with a negative length and no payload
    assert b"\x00\x00\xa1\x01" in data
    negative = [i for i in range(16, len(data) - 8, 4) if data[i : i + 4] == b"\x00\x00\xa1\x01" and data[i + 7] & 0x80]
    assert negative
    assert all(count >= 0 for _ident, count in parse_gcda(data))


def test_parse_gcda_never_raises_on_garbage_or_truncation(toy: Path, tmp_path: Path) -> None:
    data = toy_gcda(toy, ["a!", "b"], tmp_path)
    full = parse_gcda(data)
    for cut in range(len(data)):
        assert parse_gcda(data[:cut]) <= full
    rng = random.Random(7)
    for _ in range(300):
        noisy = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            noisy[rng.randrange(16, len(noisy))] = rng.randrange(256)
        parse_gcda(bytes(noisy))
        parse_gcda(data[:16] + bytes(rng.randrange(256) for _ in range(rng.randint(0, 200))))
    assert parse_gcda(b"") == frozenset()
    assert parse_gcda(b"not a gcda file at all") == frozenset()
    assert parse_gcda(b"\xff" * 64) == frozenset()


def test_features_of_names_files_and_skips_missing(toy: Path, tmp_path: Path) -> None:
    data = toy_gcda(toy, ["a!"], tmp_path)
    features = features_of({"toy.gcda": data, "absent.gcda": None, "empty.gcda": b""})
    assert features == frozenset(("toy.gcda", ident, index) for ident, index in parse_gcda(data))


def test_line_coverage_of_simultaneous_measurements_never_mix(toy: Path) -> None:
    build = CoverageBuild(
        package="toy",
        version="1",
        source_dir=toy,
        binary=toy / "toy",
        object_dir_prefix=str(toy),
        strip_components=len(toy.parts) - 1,
        gcda_files=["toy.gcda"],
        source_files=["toy.c"],
    )
    for stale in toy.glob("*.gcda"):
        stale.unlink()

    def measure(args: list[str]) -> float:
        def run_all(env_extra: dict[str, str]) -> None:
            for _ in range(20):
                env = {**os.environ, **env_extra}
                subprocess.run([str(build.binary), *args], env=env, capture_output=True, check=True)

        return line_coverage(build, run_all).percent

    alone = {tuple(args): measure(args) for args in (["-v"], ["a!", "b"])}
    with ThreadPoolExecutor(max_workers=2) as pool:
        together = dict(zip(alone, pool.map(measure, [list(key) for key in alone]), strict=True))
    assert together == alone and alone[("-v",)] != alone[("a!", "b")]
    assert not list(toy.glob("*.gcda"))  # counters never land in the build tree


def test_load_coverage_build_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(CoverageBuildError, match="cannot read"):
        load_coverage_build(tmp_path)
    (tmp_path / BUILD_JSON).write_text('{"package": "figlet"}')
    with pytest.raises(CoverageBuildError) as info:
        load_coverage_build(tmp_path)
    assert "\n" not in str(info.value) and "version" in str(info.value)


# --------------------------------------------------------------------------------------------- real builds, slow


@pytest.mark.slow
def test_figlet_build_runs_and_describes_itself(figlet_build: CoverageBuild) -> None:
    build = figlet_build
    assert build.source_dir.is_absolute() and (build.source_dir / "figlet.c").exists()
    assert build.binary.read_bytes()[:4] == b"\x7fELF"
    assert build.version.startswith("2.2.5")
    assert build.object_dir_prefix == str(build.source_dir)
    assert build.strip_components == len(build.source_dir.parts) - 1
    assert "figlet.gcda" in build.gcda_files and "chkfont.gcda" not in build.gcda_files  # chkfont is not linked
    assert "figlet.c" in build.source_files and "chkfont.c" not in build.source_files
    assert load_coverage_build(build.source_dir.parent) == build

    ours = subprocess.run([str(build.binary), "-f", "standard", "hi"], capture_output=True, text=True, timeout=30)
    debian = subprocess.run(["figlet", "-f", "standard", "hi"], capture_output=True, text=True, timeout=30)
    assert ours.returncode == 0 and ours.stdout == debian.stdout and "_" in ours.stdout


@pytest.mark.slow
def test_figlet_counters_follow_gcov_prefix_and_differ_per_input(figlet_build: CoverageBuild, tmp_path: Path) -> None:
    version = run_with_prefix(figlet_build, ["-v"], tmp_path / "v")
    slant = run_with_prefix(figlet_build, ["-c", "-f", "slant", "hello"], tmp_path / "slant")
    assert all(data is not None for data in slant.values()), "every linked object writes its .gcda at exit"
    assert {str(p.relative_to(tmp_path / "slant")) for p in (tmp_path / "slant").rglob("*.gcda")} == set(
        figlet_build.gcda_files
    )

    few, many = features_of(version), features_of(slant)
    assert len(many) > len(few) > 0
    assert many - few and few - many  # different feature sets, not just more of the same

    started = time.perf_counter()
    for _ in range(200):
        features_of(slant)
    print(f"features_of(figlet run): {(time.perf_counter() - started) / 200 * 1e6:.0f} us")


@pytest.mark.slow
def test_figlet_line_coverage_of_ten_hand_picked_lines(figlet_build: CoverageBuild) -> None:
    started = time.perf_counter()
    report = line_coverage(figlet_build, suite_runner(figlet_build, [(args, b"") for args in FIGLET_LINES]))
    print(f"line_coverage(figlet, 10 runs): {time.perf_counter() - started:.2f}s, {report.percent}%")
    assert 28.0 <= report.percent <= 40.0, report
    own = [f for f in report.files if f.role == "own"]
    assert report.lines_total == sum(f.lines_total for f in own)
    assert report.lines_covered == sum(f.lines_covered for f in own)
    by_file = {f.file: f for f in report.files}
    assert {f.file for f in own} == set(figlet_build.source_files)
    assert by_file["figlet.c"].lines_covered > 300
    assert by_file["inflate.c"].lines_covered == 0  # no zipped font among the ten

    # a second measurement starts from zero again: the old counters are deleted first
    again = line_coverage(figlet_build, suite_runner(figlet_build, [(["-v"], b"")]))
    assert again.lines_covered < report.lines_covered


@pytest.mark.slow
@needs_apt
def test_unknown_package_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(CoverageBuildError) as info:
        coverage_build("twinbench-no-such-package", tmp_path)
    message = str(info.value)
    assert "\n" not in message and "twinbench-no-such-package" in message
    assert f"build log: {tmp_path / BUILD_LOG}" in message


@pytest.mark.slow
def test_coverage_guided_testgen_on_figlet(figlet_build: CoverageBuild, tmp_path: Path) -> None:
    from twinbench.formats import load_suite, load_task
    from twinbench.reference.taskgen import create_task
    from twinbench.sandbox import get_sandbox
    from twinbench.testgen.generate import TestgenOptions
    from twinbench.testgen.pipeline import run_testgen

    task = create_task("figlet", tmp_path / "task", debian="figlet")
    options = TestgenOptions(runs=1500, seed=3, max_tests=300)
    report = run_testgen(task, get_sandbox("bwrap"), options, coverage_dir=Path(figlet_build.build_log).parent)
    assert report.guidance == "coverage" and report.stopped_by == "budget"
    assert report.coverage is not None and report.coverage.percent > 50
    files = {f.file: f for f in report.coverage.files}
    assert files["figlet.c"].lines_covered > 0 and files["inflate.c"].lines_covered > 0  # zipped fonts reached
    suite = load_suite(task.suite_path)
    assert len(suite) == report.kept > 50
    assert any(case.files for case in suite.cases)  # data files of the package became test inputs
    saved = json.loads((task.root / "tests" / "testgen.json").read_text())
    assert saved["coverage"]["percent"] == report.coverage.percent
    assert load_task(task.root).task.clock is None  # figlet never reads the clock


@pytest.mark.slow
def test_bc_counts_its_grammar_and_lexer_not_their_generated_c() -> None:
    build = cached_build("bc")
    assert (build.toolchain, build.language) == ("gcc", "c")
    assert {"bc/bc.y", "bc/scan.l", "bc/main.c", "lib/number.c"} <= set(build.source_files)
    assert "bc/bc.c" not in build.source_files and "bc/scan.c" not in build.source_files
    report = line_coverage(build, suite_runner(build, [(["-l"], b"scale=10; 4*a(1)\n"), ([], b"for(i=0;i<3;i++) i\n")]))
    files = {f.file: f for f in report.files}
    assert files["bc/bc.y"].role == "own" and files["bc/bc.y"].lines_covered > 0
    assert files["bc/bc.c"].role == "generated" and report.by_role["generated"].files == 2
    assert report.lines_total == report.by_role["own"].lines_total


@pytest.mark.slow
@needs_apt
def test_a_version_the_mirror_lacks_is_refused_naming_both(tmp_path: Path) -> None:
    from twinbench.reference.coverage.apt import installed_source, source_versions

    installed = installed_source("sed")
    if installed is None or installed[1] in source_versions(installed[0])[1]:
        pytest.skip("the mirror has the installed sed's source: nothing to refuse here")
    with pytest.raises(CoverageBuildError) as info:
        coverage_build("sed", tmp_path)
    message = str(info.value)
    assert "\n" not in message and f"sed {installed[1]} is installed" in message and str(tmp_path) in message
    assert not any(tmp_path.glob("sed-*"))  # refused before fetching anything


@pytest.mark.slow
def test_rust_lscolors_through_debians_cargo_wrapper() -> None:
    build = cached_build("lscolors")
    assert (build.toolchain, build.language) == ("llvm", "rust")
    assert "src/bin.rs" in build.source_files or any(name.startswith("src/") for name in build.source_files)
    report = line_coverage(build, suite_runner(build, [(["Cargo.toml", "/usr/bin"], b""), ([], b"")]))
    assert report.percent > 0 and report.by_role["own"].files == len(build.source_files)
    dependencies = [f for f in report.files if f.role == "dependency"]
    assert dependencies and all(not f.file.startswith("src/") for f in dependencies)  # other packages' crates


@pytest.mark.slow
def test_go_gron_through_dh_golang() -> None:
    build = cached_build("gron")
    assert (build.toolchain, build.language, build.import_path) == ("go", "go", "github.com/tomnomnom/gron")
    assert "main.go" in build.source_files
    report = line_coverage(build, suite_runner(build, [([], b'{"a": [1, {"b": true}]}'), (["-u"], b"json.a = 1;\n")]))
    files = {f.file: f for f in report.files}
    assert files["main.go"].lines_covered > 0 and files["ungron.go"].lines_covered > 0
