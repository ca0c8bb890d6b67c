"""Go coverage through go build -cover: counter files, block features in the sandbox, covdata lines."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest

from twinbench.reference.coverage import CoverageBuild, features_of, guidance_settings
from twinbench.reference.coverage.golang import (
    _newest_go,
    covcounter_blocks,
    covcounter_features,
    covdata_lines,
    parse_textfmt,
    verify_coverdir,
)

TOY_GO = """package main

import (
	"fmt"
	"os"
	"strings"
)

func neverCalled(x int) int { return x*3 + 1 }

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-v" {
		fmt.Println("toy 1.0")
		return
	}
	total := 0
	for _, a := range os.Args[1:] {
		total += strings.Count(a, "!")
	}
	if len(os.Args) > 100 {
		total += neverCalled(total)
	}
	fmt.Println(total)
}
"""

GO = _newest_go()
pytestmark = pytest.mark.skipif(
    GO is None, reason="go build -cover needs Go >= 1.20 (scripts/setup.sh: golang-1.22-go)"
)


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy built with go build -cover (module mode)."""
    assert GO is not None
    directory = tmp_path_factory.mktemp("go-toy")
    (directory / "main.go").write_text(TOY_GO)
    (directory / "go.mod").write_text("module example.com/toy\n\ngo 1.20\n")
    cache = Path.home() / ".cache" / "twinbench" / "go-build"
    env = {"PATH": f"{GO.parent}:/usr/bin:/bin", "HOME": str(directory), "GOCACHE": str(cache), "GOFLAGS": "-cover"}
    subprocess.run([str(GO), "build", "-o", "toy", "."], cwd=directory, env=env, check=True)
    return directory / "toy"


def run_toy(exe: Path, args: list[str], out: Path) -> list[Path]:
    """Run the toy with GOCOVERDIR=out; return its counter files."""
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(exe), *args], env={**os.environ, "GOCOVERDIR": str(out)}, check=True, capture_output=True)
    return sorted(out.glob("covcounters.*"))


def test_counters_differ_per_input_and_features_keep_a_stable_name(toy: Path, tmp_path: Path) -> None:
    verify_coverdir(toy)
    (version,) = run_toy(toy, ["-v"], tmp_path / "a")
    (bangs,) = run_toy(toy, ["a!", "b!!"], tmp_path / "b")
    assert covcounter_blocks(version.read_bytes()) and covcounter_blocks(bangs.read_bytes())
    assert set(covcounter_blocks(version.read_bytes())) != set(covcounter_blocks(bangs.read_bytes()))
    first = covcounter_features(f".twinbench-gcov/{version.name}", version.read_bytes())
    again = covcounter_features(f".twinbench-gcov/{bangs.name}", version.read_bytes())
    assert version.name != bangs.name and first == again  # the pid and clock in the file name do not matter


def test_garbage_and_truncated_counter_files_never_raise(toy: Path, tmp_path: Path) -> None:
    (counters,) = run_toy(toy, ["x!"], tmp_path / "c")
    data = counters.read_bytes()
    rng = random.Random(9)
    for cut in range(0, len(data), 7):
        covcounter_blocks(data[:cut])
    for _ in range(300):
        mutated = bytearray(data)
        for _ in range(6):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        covcounter_blocks(bytes(mutated))
    assert covcounter_blocks(b"not a counter file" * 4) == []


def test_covdata_lines_of_the_toy(toy: Path, tmp_path: Path) -> None:
    assert GO is not None
    run_toy(toy, ["a!"], tmp_path / "d")
    run_toy(toy, ["-v"], tmp_path / "d")
    lines = covdata_lines(str(GO), tmp_path / "d")["example.com/toy/main.go"]
    assert lines[9] == 0 and lines[13] >= 1 and lines[18] >= 1  # neverCalled, "-v", the loop body


def test_parse_textfmt_spans_blocks_over_their_lines() -> None:
    text = "mode: set\nm/a.go:3.10,5.2 2 1\nm/a.go:5.2,6.3 1 0\nm/a.go:9.1,9.5 0 1\n"
    assert parse_textfmt(text) == {"m/a.go": {3: 1, 4: 1, 5: 1, 6: 0}}


def test_sandboxed_runs_write_counters_apart_and_guidance_reads_them(toy: Path, tmp_path: Path) -> None:
    from twinbench.sandbox import WORK_DIR, ExecRequest, SessionConfig, get_sandbox

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "executable").write_bytes(toy.read_bytes())
    (tree / "executable").chmod(0o755)
    build = CoverageBuild(
        package="toy",
        version="1",
        source_dir=tmp_path,
        binary=tree / "executable",
        object_dir_prefix=str(tmp_path),
        strip_components=0,
        gcda_files=[],
        source_files=[],
        toolchain="go",
    )
    env, collect, files = guidance_settings(build, f"{WORK_DIR}/.twinbench-gcov")
    features = []
    with get_sandbox("bwrap").open(SessionConfig(tree=tree)) as session:
        for args in (["-v"], ["a!"], ["-v"]):
            request = ExecRequest(
                argv=["./executable", *args], env={"PATH": "/usr/bin:/bin", **env}, collect=collect, files=files
            )
            result = session.run(request)
            assert result.exit_code == 0 and result.stderr == b"", result
            counters = [name for name in result.files if name.rsplit("/", 1)[-1].startswith("covcounters.")]
            assert len(counters) == 1  # every run starts from an empty counter directory
            features.append(features_of(result.files))
    assert features[0] and features[0] == features[2] and features[0] != features[1]
