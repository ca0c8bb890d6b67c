"""The coverage build's source version is exactly the installed one, and every failure names the build log."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from twinbench.reference.coverage import coverage_build
from twinbench.reference.coverage.apt import BuildRunner, choose_version, installed_source
from twinbench.reference.coverage.model import CoverageBuildError


def test_the_installed_version_is_chosen_when_the_mirror_has_it() -> None:
    assert choose_version("sed", "4.9-1", ["4.9-1+deb12u1", "4.9-1"]) == "4.9-1"


def test_a_missing_installed_version_is_refused_in_one_line_naming_both() -> None:
    with pytest.raises(CoverageBuildError) as info:
        choose_version("sed", "4.9-1", ["4.9-1+deb12u1"])
    message = str(info.value)
    assert "\n" not in message and "4.9-1 is installed" in message and "4.9-1+deb12u1" in message


def test_the_refusal_quotes_the_apt_command_that_moves_every_binary_of_the_source() -> None:
    # jq's code is in libjq1: jq depends on libjq1 of exactly its version, so both move together
    with pytest.raises(CoverageBuildError) as info:
        choose_version("jq", "1.6-2.1+deb12u1", ["1.6-2.1+deb12u3"], ["jq=1.6-2.1+deb12u3", "libjq1=1.6-2.1+deb12u3"])
    message = str(info.value)
    assert "jq 1.6-2.1+deb12u1 is installed" in message and "offer 1.6-2.1+deb12u3" in message
    assert "`apt-get install jq=1.6-2.1+deb12u3 libjq1=1.6-2.1+deb12u3`" in message and "\n" not in message


@pytest.mark.slow  # apt-cache madison reads all of apt's lists (about 10 s)
def test_the_upgrade_names_each_installed_binary_of_the_source_at_a_version_apt_has() -> None:
    from twinbench.reference.coverage.apt import installed_source, matching_upgrade, source_versions

    installed = installed_source("figlet")
    if installed is None:
        pytest.skip("figlet is installed by scripts/setup.sh")
    versions = source_versions(installed[0])[1]
    upgrade = matching_upgrade(installed[0], versions)
    if upgrade is None:
        pytest.skip("apt offers no figlet binary at a version of its source (no deb-src entries yet?)")
    (argument,) = upgrade  # figlet's source builds one binary package
    name, _, version = argument.partition("=")
    assert name == "figlet" and version.split("+b")[0] in versions  # a binNMU binary maps to its source


def test_a_package_that_is_not_installed_builds_the_newest_source() -> None:
    assert choose_version("bc", None, ["1.07.1-3", "1.07.1-2"]) == "1.07.1-3"
    with pytest.raises(CoverageBuildError):
        choose_version("nothing", None, [])


@pytest.mark.skipif(shutil.which("figlet") is None, reason="figlet is installed by scripts/setup.sh")
def test_installed_source_maps_a_binnmu_to_its_source_version() -> None:
    binary_version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "figlet"], capture_output=True, text=True, check=True
    ).stdout
    found = installed_source("figlet")
    assert found is not None
    source, version = found
    assert source == "figlet" and binary_version.startswith(version) and "+b" not in version
    assert installed_source("twinbench-no-such-package") is None


def test_a_failing_command_names_the_build_log_and_keeps_its_output(tmp_path: Path) -> None:
    log_path = tmp_path / "coverage-build.log"
    with open(log_path, "w", encoding="utf-8") as log:
        runner = BuildRunner(log, log_path, lambda _line: None)
        with pytest.raises(CoverageBuildError) as info:
            runner.run(["sh", "-c", "echo compiling; echo 'main.c:3: error: oops' >&2; exit 2"], what="make")
    message = str(info.value)
    assert "\n" not in message and "main.c:3: error: oops" in message and str(log_path) in message
    assert "compiling" in log_path.read_text() and "[exit 2 after " in log_path.read_text()


@pytest.mark.parametrize("package", ["-o foo", "Bc", "", "../etc", "a"])
def test_a_name_that_is_no_debian_package_is_refused_before_apt_runs(package: str, tmp_path: Path) -> None:
    from twinbench.reference.coverage import coverage_build

    with pytest.raises(CoverageBuildError, match="is not a Debian package name"):
        coverage_build(package, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_binary_given_as_a_path_is_refused(tmp_path: Path) -> None:
    from twinbench.reference.coverage import coverage_build

    with pytest.raises(CoverageBuildError, match="not a path"):
        coverage_build("bc", tmp_path / "out", binary="/usr/bin/bc")


def test_the_default_command_is_the_packages_only_one() -> None:
    from twinbench.reference.coverage.build import _default_binary

    assert _default_binary("twinbench-no-such-package", Path("/nonexistent")) == "twinbench-no-such-package"
    if shutil.which("figlet"):
        assert _default_binary("figlet", Path("/nonexistent")) == "figlet"  # figlet ships chkfont and others too


@pytest.mark.parametrize(
    ("build_depends", "toolchain"),
    [
        (
            "debhelper (>= 12),\n dh-cargo (>= 25),\n cargo:native,\n rustc:native,\n librust-regex-1+default-dev",
            "llvm",
        ),
        ("debhelper-compat (= 13),\n dh-golang,\n golang-any,\n golang-github-fatih-color-dev", "go"),
        ("debhelper-compat (= 13), bison, flex, libreadline-dev, texinfo", "gcc"),
        ("debhelper-compat (= 13), cmake, re2c, python3", "gcc"),
    ],
)
def test_the_toolchain_comes_from_debian_control(build_depends: str, toolchain: str, tmp_path: Path) -> None:
    from twinbench.reference.coverage.build import _toolchain_of

    (tmp_path / "debian").mkdir()
    control = f"Source: p\nBuild-Depends: {build_depends}\nStandards-Version: 4.6.0\n\nPackage: p\nDepends: cargo\n"
    (tmp_path / "debian" / "control").write_text(control)
    assert _toolchain_of(tmp_path) == toolchain


def test_a_source_the_mirror_lost_names_the_versions_it_still_has(monkeypatch: pytest.MonkeyPatch) -> None:
    # the installed jq's source (+deb12u3) answers 404 while the mirror keeps +deb12u2's files
    from twinbench.reference.coverage import apt

    monkeypatch.setattr(apt, "source_versions", lambda _source: ("jq", ["1.6-2.1+deb12u3", "1.6-2.1+deb12u2"]))
    monkeypatch.setattr(apt, "matching_upgrade", lambda _s, versions: [f"jq={versions[0]}", f"libjq1={versions[0]}"])
    hint = apt._other_versions("jq", "1.6-2.1+deb12u3")
    assert hint == (
        "; it also lists 1.6-2.1+deb12u2: try `apt-get install --allow-downgrades jq=1.6-2.1+deb12u2 "
        "libjq1=1.6-2.1+deb12u2` and build again"
    )


def test_a_second_build_into_the_same_directory_is_refused_and_touches_nothing(tmp_path: Path) -> None:
    # two builds into one -o: the second would unpack afresh and delete the first's tree under it
    import fcntl

    from twinbench.reference.coverage.build import BUILD_LOCK

    (tmp_path / "coverage-build.log").write_text("the running build's log\n")
    with open(tmp_path / BUILD_LOCK, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(CoverageBuildError) as info:
            coverage_build("figlet", tmp_path)
    assert "another coverage-build is writing" in str(info.value) and str(tmp_path) in str(info.value)
    assert (tmp_path / "coverage-build.log").read_text() == "the running build's log\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([BUILD_LOCK, "coverage-build.log"])


def test_a_fetch_that_fails_leaves_the_earlier_build_of_the_directory_whole(tmp_path: Path) -> None:
    """A cached build of jq +deb12u2 lives in jq-1.6/, where +deb12u3 unpacks too: a 404 for +deb12u3 must not
    delete it (it did: the old tree was removed before apt-get source ran)."""
    from twinbench.reference.coverage.apt import fetch_source
    from twinbench.reference.coverage.model import BUILD_JSON

    earlier = tmp_path / "figlet-0.0"
    (earlier / "debian").mkdir(parents=True)
    (earlier / "figlet.gcno").write_text("notes of the earlier build\n")
    (tmp_path / BUILD_JSON).write_text("{}\n")
    log_path = tmp_path / "coverage-build.log"
    with open(log_path, "w", encoding="utf-8") as log:
        runner = BuildRunner(log, log_path, lambda _line: None)
        with pytest.raises(CoverageBuildError) as info:
            fetch_source(runner, "figlet", "0.0-1", tmp_path)  # no such version: apt-get source fails
    assert "apt-get source figlet=0.0-1 failed" in str(info.value)
    assert (earlier / "figlet.gcno").read_text() == "notes of the earlier build\n"
    assert (tmp_path / BUILD_JSON).is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["figlet-0.0", BUILD_JSON, "coverage-build.log"])


@pytest.mark.skipif(shutil.which("dpkg-gensymbols") is None, reason="needs dpkg-dev")
def test_gcov_symbols_of_an_instrumented_library_do_not_fail_the_packages_symbols_check(tmp_path: Path) -> None:
    """luajit's build failed in dh_makeshlibs: its libluajit-5.1.so.2 exported __gcov_error_file, which its
    symbols file does not list, and its check level makes new symbols an error."""
    from twinbench.reference.coverage.build import _build_env

    package = tmp_path / "debian" / "libtoy1"
    (package / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "toy.c").write_text("int toy(void) { return 1; }\n")
    library = package / "usr" / "lib" / "libtoy.so.1"
    subprocess.run(
        ["gcc", "--coverage", "-shared", "-fPIC", "-Wl,-soname,libtoy.so.1", "-o", str(library), "toy.c"],
        cwd=tmp_path,
        check=True,
    )
    (tmp_path / "debian" / "libtoy1.symbols").write_text("libtoy.so.1 libtoy1 #MINVER#\n toy@Base 1.0\n")
    (tmp_path / "debian" / "control").write_text(
        "Source: toy\nMaintainer: T <t@example.org>\n\nPackage: libtoy1\nArchitecture: any\nDescription: toy\n toy\n"
    )
    check = ["dpkg-gensymbols", "-c4", "-v1.0", "-plibtoy1", "-Pdebian/libtoy1", "-Idebian/libtoy1.symbols"]
    check.append("-Odebian/out.symbols")
    strict = subprocess.run(check, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert strict.returncode != 0 and "__gcov" in strict.stdout  # the check the build would fail
    log_path = tmp_path / "coverage-build.log"
    with open(log_path, "w", encoding="utf-8") as log:
        env, _tools = _build_env(BuildRunner(log, log_path, lambda _line: None), "gcc", tmp_path, 1)
    built = subprocess.run(check, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert built.returncode == 0, built.stdout + built.stderr
    # luajit's debian/rules exports its own level: the build's setting must win over the makefile's too
    rules = tmp_path / "debian" / "rules"
    rules.write_text(f"export DPKG_GENSYMBOLS_CHECK_LEVEL=4\n\nbinary-arch:\n\t{' '.join(check)}\n")
    made = subprocess.run(["make", "-f", "debian/rules", "binary-arch"], cwd=tmp_path, env=env, capture_output=True)
    assert made.returncode == 0, made.stdout + made.stderr
