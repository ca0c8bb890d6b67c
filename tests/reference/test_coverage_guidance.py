"""How guided runs write and hand back their counters, per toolchain, and how their features rank."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_executable
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import CoverageBuild, guidance_settings
from twinbench.sandbox import ExecRequest, SessionConfig
from twinbench.testgen.generate import Candidate, select_cover
from twinbench.testgen.record import CaseSpec

COUNTERS = "/tmp/work/.twinbench-gcov"


def build_of(toolchain: str, counters: list[str]) -> CoverageBuild:
    """A coverage build description with only what guidance reads."""
    return CoverageBuild.model_validate(
        {
            "package": "p",
            "version": "1",
            "source_dir": "/src/p",
            "binary": "/src/p/debian/p/usr/bin/p",
            "object_dir_prefix": "/src/p",
            "strip_components": 2,
            "gcda_files": counters,
            "source_files": [],
            "toolchain": toolchain,
        }
    )


def test_each_toolchain_writes_its_counters_into_the_runs_own_work_dir() -> None:
    env, collect, files = guidance_settings(build_of("gcc", ["src/a.gcda"]), COUNTERS)
    assert env == {"GCOV_PREFIX": COUNTERS, "GCOV_PREFIX_STRIP": "2"} and collect == [".twinbench-gcov/src/a.gcda"]
    env, collect, files = guidance_settings(build_of("llvm", ["123_0.profraw"]), COUNTERS)
    assert env == {"LLVM_PROFILE_FILE": f"{COUNTERS}/%m.profraw"} and collect == [".twinbench-gcov/123_0.profraw"]
    env, collect, files = guidance_settings(build_of("go", []), COUNTERS)
    assert env == {"GOCOVERDIR": COUNTERS} and collect == [".twinbench-gcov/"]
    assert files == {".twinbench-gcov/.keep": b""}  # Go writes nothing into a directory that does not exist


def test_a_collected_directory_returns_its_regular_files_only(tmp_path: Path, bwrap: Sandbox) -> None:
    tree = tmp_path / "tree"
    write_executable(tree, "#!/bin/sh\nmkdir -p d/sub\necho 1 > d/a\necho 22 > d/b\nln -s /etc/passwd d/link\n")
    with bwrap.open(SessionConfig(tree=tree)) as session:
        result = session.run(ExecRequest(argv=["./executable"], env={"PATH": "/usr/bin:/bin"}, collect=["d/", "none/"]))
    assert result.files == {"d/a": b"1\n", "d/b": b"22\n"}


def test_counter_features_of_every_toolchain_outrank_behavior() -> None:
    rust = (".twinbench-gcov/123_0.profraw", 0, 7)
    go = (".twinbench-gcov/covcounters.abc", 1 << 20, 3)
    corpus = [
        Candidate(spec=CaseSpec(id="behavior"), features=frozenset({("exit", 0), ("exit", 1), ("shape", 0, 1, 1)})),
        Candidate(spec=CaseSpec(id="rust"), features=frozenset({rust})),
        Candidate(spec=CaseSpec(id="go"), features=frozenset({go})),
    ]
    assert [c.spec.id for c in select_cover(corpus, limit=2)] == ["rust", "go"]
