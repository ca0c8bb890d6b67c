"""Rust mutants: a tiny real cargo crate (a library and a binary), its own rustc runs replayed per mutant."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from twinbench.formats import ReferenceSpec, Task
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import CoverageBuild, CoverageBuildError
from twinbench.testgen import CaseSpec, record_reference
from twinbench.testgen.mutants import MutantBuilder, mutation_score, mutation_sites, target_from_coverage_build
from twinbench.testgen.rust_mutants import rustc_units

CARGO = "/usr/bin/cargo"
LIBRARY = textwrap.dedent(
    """\
    /// the sum 1 + 2 + ... + n, capped
    pub fn total(n: u64) -> u64 {
        let mut sum: Vec<u64> = Vec::new();
        for i in 1..=n {
            sum.push(i);
        }
        let t: u64 = sum.iter().sum();
        if t > 1000 { 1000 } else { t }
    }
    pub const HELP: &str = "tiny N: the sum of 1 to N,
    capped at 1000 (a string over two lines)";
    pub const RAW: &str = r#"a "raw" string: 42 < 43"#;
    pub fn lifetime<'a>(text: &'a str) -> usize { text.len() + 'x'.len_utf8() }
    """
)
MAIN = textwrap.dedent(
    """\
    fn main() {
        let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(0);
        if n == 0 || n > 100 {
            eprintln!("usage: tiny N");
            std::process::exit(2);
        }
        println!("{}", tiny::total(n) + 1);
    }
    """
)

pytestmark = pytest.mark.skipif(not Path(CARGO).exists(), reason="the distribution's cargo is not installed")


def tiny_crate(directory: Path) -> CoverageBuild:
    """A crate built as Debian builds Rust (cargo -vv, release), described as a coverage build."""
    (directory / "src").mkdir(parents=True)
    (directory / "Cargo.toml").write_text('[package]\nname = "tiny"\nversion = "0.1.0"\nedition = "2018"\n')
    (directory / "src" / "lib.rs").write_text(LIBRARY)
    (directory / "src" / "main.rs").write_text(MAIN)
    env = {**os.environ, "PATH": "/usr/bin:/bin", "CARGO_HOME": str(directory.parent / "cargo-home")}
    env.pop("RUSTFLAGS", None)
    built = subprocess.run(
        [CARGO, "build", "--release", "-vv", "--offline"], cwd=directory, env=env, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr[-2000:]
    log = directory.parent / "build.log"
    log.write_text(built.stderr)
    return CoverageBuild(
        package="tiny",
        version="0.1.0",
        source_dir=directory,
        binary=directory / "target" / "release" / "tiny",
        object_dir_prefix=str(directory),
        strip_components=0,
        gcda_files=[],
        toolchain="llvm",
        language="rust",
        source_files=["src/lib.rs", "src/main.rs"],
        build_log=str(log),
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> CoverageBuild:
    """Built once for the module: cargo takes half a minute on a busy machine."""
    return tiny_crate(tmp_path_factory.mktemp("crate") / "tiny")


def test_the_own_crates_rustc_runs_are_read_from_the_build_log_in_order(tiny: CoverageBuild) -> None:
    build = tiny
    units = rustc_units(Path(build.build_log).read_text(), Path(build.source_dir))
    assert [(unit.crate_name, unit.crate_root, unit.is_binary) for unit in units] == [
        ("tiny", "src/lib.rs", False),
        ("tiny", "src/main.rs", True),
    ]
    assert units[0].env["CARGO_PKG_NAME"] == "tiny"


def test_rust_sites_leave_generics_and_closures_alone(tiny: CoverageBuild) -> None:
    target = target_from_coverage_build(tiny)
    sites = {(site.file, site.line, site.original) for site in mutation_sites(target)}
    assert ("src/lib.rs", 8, ">") in sites and ("src/main.rs", 3, "||") in sites and ("src/main.rs", 3, ">") in sites
    assert not {site for site in sites if site[:2] in (("src/lib.rs", 10), ("src/lib.rs", 11), ("src/lib.rs", 12))}
    assert ("src/lib.rs", 13, "+") in sites  # after a lifetime and a char literal, code again
    operators = {site for site in sites if not site[2].isdigit()}
    assert not {site for site in operators if site[:2] in (("src/lib.rs", 3), ("src/main.rs", 2))}  # Vec<u64>, |a|


@pytest.mark.slow
def test_rust_mutants_are_rebuilt_by_replaying_rustc_and_graded(
    tiny: CoverageBuild, tmp_path: Path, bwrap: Sandbox
) -> None:
    build = tiny
    target = target_from_coverage_build(build)
    task = Task(id="tiny", reference=ReferenceSpec(binary=str(build.binary)))
    cases = [CaseSpec(id=f"n{n}", argv=[str(n)]) for n in (0, 1, 3, 44, 45, 100, 101)]
    suite, _ = record_reference(task, cases, bwrap)
    builder = MutantBuilder(target, tmp_path / "cache")
    report = mutation_score(task, suite, target, 6, bwrap, workers=2, builder=builder)
    assert report.built >= 4 and report.killed >= 3, report
    assert report.baseline_cases == len(cases)  # the replayed unmutated build passes every case
    killed = next(m for m in report.mutants if m.status == "killed")
    assert killed.file in target.source_files and killed.diff.startswith(f"--- a/{killed.file}:")
    # the coverage build's tree is untouched: mutants are made in a private copy
    assert (Path(build.source_dir) / "src" / "lib.rs").read_text() == LIBRARY


def test_a_rust_build_whose_log_shows_no_rustc_run_is_a_clear_error(tiny: CoverageBuild, tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("dpkg-buildpackage: info: source package tiny\n")
    build = tiny.model_copy(update={"build_log": str(log)})
    with pytest.raises(CoverageBuildError, match="shows no rustc run"):
        target_from_coverage_build(build)
