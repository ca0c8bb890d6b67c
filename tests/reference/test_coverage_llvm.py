"""Rust coverage through Debian's rustc -C instrument-coverage: raw profiles, region features, llvm-cov lines."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from twinbench.reference.coverage import features_of
from twinbench.reference.coverage.apt import BuildRunner
from twinbench.reference.coverage.llvm import (
    PROFILE_NAME,
    RUSTC,
    llvm_lines,
    parse_lcov,
    profraw_counters,
    rust_toolchain,
    verify_profile,
)

TOY_RS = """
use std::env;
fn never_called(x: usize) -> usize { x * 3 + 1 }
fn main() {
    let args: Vec<String> = env::args().skip(1).collect();
    if args.iter().any(|a| a == "-v") {
        println!("toy 1.0");
        return;
    }
    let mut total = 0;
    for a in &args {
        total += a.matches('!').count();
    }
    if args.len() > 100 {
        total += never_called(args.len());
    }
    println!("{}", total);
}
"""

pytestmark = pytest.mark.skipif(not Path(RUSTC).exists(), reason="Debian's rustc is installed by scripts/setup.sh")


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """The toy compiled by Debian's rustc with -C instrument-coverage; returns (binary, llvm tools)."""
    directory = tmp_path_factory.mktemp("rust-toy")
    log_path = directory / "build.log"
    with open(log_path, "w", encoding="utf-8") as log:
        env, tools = rust_toolchain(BuildRunner(log, log_path, lambda _line: None), directory)
    (directory / "toy.rs").write_text(TOY_RS)
    argv = [RUSTC, *env["RUSTFLAGS"].split(), "-o", str(directory / "toy"), str(directory / "toy.rs")]
    subprocess.run(argv, cwd=directory, check=True, env={"PATH": "/usr/bin:/bin", "HOME": str(directory)})
    return directory / "toy", tools


def run_toy(exe: Path, args: list[str], out: Path) -> Path:
    """Run the toy with its profile written under out; return the one profile."""
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LLVM_PROFILE_FILE": f"{out}/{PROFILE_NAME}"}
    subprocess.run([str(exe), *args], env=env, check=True, capture_output=True)
    (profile,) = out.glob("*.profraw")
    return profile


def test_each_run_writes_one_profile_whose_name_is_fixed_per_binary(toy: tuple[Path, dict[str, str]]) -> None:
    exe, _tools = toy
    name = verify_profile(exe)
    assert name.endswith(".profraw") and verify_profile(exe) == name


def test_counters_differ_per_input_and_become_features(toy: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    exe, _tools = toy
    version = profraw_counters(run_toy(exe, ["-v"], tmp_path / "a").read_bytes())
    bangs = profraw_counters(run_toy(exe, ["a!", "b!!"], tmp_path / "b").read_bytes())
    assert version and bangs and set(version) != set(bangs)
    profile = run_toy(exe, ["x"], tmp_path / "c")
    features = features_of({f".twinbench-gcov/{profile.name}": profile.read_bytes(), "missing.profraw": None})
    assert features and all(name == f".twinbench-gcov/{profile.name}" for name, _zero, _index in features)


def test_garbage_and_truncated_profiles_never_raise(toy: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    exe, _tools = toy
    data = run_toy(exe, ["x!"], tmp_path / "p").read_bytes()
    rng = random.Random(5)
    for cut in (0, 7, 88, 100, len(data) // 2, len(data) - 1):
        profraw_counters(data[:cut])
    for _ in range(200):
        mutated = bytearray(data)
        for _ in range(8):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        profraw_counters(bytes(mutated))
    assert profraw_counters(b"\x81rforpl\xff" + bytes(200)) == []


def test_llvm_cov_lines_of_the_toy(toy: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    exe, tools = toy
    profiles = [run_toy(exe, ["a!"], tmp_path / "one"), run_toy(exe, ["-v"], tmp_path / "two")]
    files = llvm_lines(exe, profiles, tools)
    (source,) = [name for name in files if name.endswith("toy.rs")]
    lines = files[source]
    assert lines[3] == 0  # never_called
    assert lines[7] == 1 and lines[12] >= 1  # "-v" printed once; the loop ran for "a!"


def test_parse_lcov_keeps_the_highest_count_of_a_line() -> None:
    text = "SF:/a.rs\nDA:1,0\nDA:1,4\nDA:2,0\nDA:x,1\nend_of_record\nDA:9,9\nSF:b.rs\nDA:3,1\nend_of_record\n"
    assert parse_lcov(text) == {"/a.rs": {1: 4, 2: 0}, "b.rs": {3: 1}}
