"""collection.yaml: defaults inheritance, and hostile manifests refused in one line."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from twinbench.collection import load_manifest
from twinbench.formats import FormatError

GOOD = """\
format: twinbench-collection-1
name: demo
max_bytes: 1000000
defaults: {budget_s: 30, seed: 7, max_tests: 50, coverage: false}
tasks:
  - {id: figlet, package: figlet, version: "2.2.5-3+b1", binary: figlet, language: C,
     programbench: cmatsuoka__figlet.202a0a8, coverage: true, env: {LC_ALL: C}}
  - {id: lz4, package: lz4, version: "1.9.4-1", binary: lz4, language: C, budget_s: 90,
     testgen: {runs: 500, upstream_tests: false, test_limits: {memory_mb: 2048}}}
deferred:
  - {package: htop, programbench: null, reason: needs a terminal}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "collection.yaml"
    path.write_text(text)
    return path


def test_defaults_are_inherited_and_overridden(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, GOOD))
    figlet, lz4 = manifest.tasks
    assert (figlet.budget_s, figlet.seed, figlet.max_tests, figlet.coverage) == (30, 7, 50, True)
    assert (lz4.budget_s, lz4.coverage, lz4.testgen.runs, lz4.testgen.test_limits.memory_mb) == (90, False, 500, 2048)
    assert figlet.env == {"LC_ALL": "C"} and manifest.deferred[0].reason == "needs a terminal"
    assert load_manifest(tmp_path) == manifest  # a collection directory names its manifest


def test_a_changed_default_changes_the_entry_digest(tmp_path: Path) -> None:
    before = load_manifest(write(tmp_path, GOOD)).tasks[0].digest()
    after = load_manifest(write(tmp_path, GOOD.replace("seed: 7", "seed: 8"))).tasks[0].digest()
    assert before != after


def test_base_args_and_files_are_read_and_change_only_the_digests_of_entries_that_set_them(tmp_path: Path) -> None:
    before = load_manifest(write(tmp_path, GOOD)).tasks
    with_base = GOOD.replace("upstream_tests: false,", "upstream_tests: false, base_args: [--filter=a],")
    after = load_manifest(write(tmp_path, with_base)).tasks
    assert after[1].testgen.base_args == ["--filter=a"] and before[1].testgen.base_args == []
    assert after[1].digest() != before[1].digest()
    # an entry without them keeps the digest it had before the setting existed: its built task is not redone
    assert after[0].digest() == before[0].digest()
    with_files = GOOD.replace("upstream_tests: false,", "upstream_tests: false, files: {keys/key.txt: secret},")
    assert load_manifest(write(tmp_path, with_files)).tasks[1].testgen.files == {"keys/key.txt": "secret"}
    assert load_manifest(write(tmp_path, with_files)).tasks[1].digest() != before[1].digest()
    # pinned: the digest main computed before base_args and files existed
    assert before[1].digest() == "8c4b183d7b5c2a6e3455b2e665762b875ea3cba8961d11e35711535b065b1e9d"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tasks: [", "not valid YAML"),
        ("- a\n- b\n", "expected a mapping"),
        (GOOD.replace("twinbench-collection-1", "twinbench-collection-9"), "format: Value error"),
        (GOOD + "extra: 1\n", "extra: Extra inputs are not permitted"),
        (GOOD.replace("binary: lz4,", "binary: lz4, colour: red,"), "tasks.lz4.colour: Extra inputs"),
        (GOOD.replace("id: lz4", "id: figlet"), "duplicate task id 'figlet'"),
        (GOOD.replace("id: lz4", "id: FIGLET"), "duplicate task id 'FIGLET'"),
        (GOOD.replace('"1.9.4-1"', "1.9"), "tasks.lz4.version: Input should be a valid string"),
        (GOOD.replace("id: lz4", "id: ../../etc"), "tasks.../../etc.id: String should match pattern"),
        (GOOD.replace("id: lz4", "id: yes"), "tasks.1.id: Input should be a valid string"),  # YAML 1.1's boolean
        (GOOD.replace("package: lz4", "package: 'lz4; rm -rf /'"), "tasks.lz4.package: String should match"),
        (GOOD.replace("binary: lz4", "binary: bin/lz4"), "not a relative path"),
        (GOOD.replace("language: C, budget_s: 90", "language: Cobol, budget_s: 90"), "tasks.lz4.language: Input"),
        (GOOD.replace("runs: 500", "runs: -1"), "tasks.lz4.testgen.runs: Input should be greater than 0"),
        (GOOD.replace("budget_s: 90", "budget_s: .inf"), "tasks.lz4.budget_s: Input should be less than"),
        (GOOD.replace("{LC_ALL: C}", "{'A=B': C}"), "environment variable name 'A=B'"),
        (GOOD.replace("defaults: {budget_s: 30,", "defaults: {budget_s: -5,"), "budget_s: Input should be greater"),
        ("format: twinbench-collection-1\nname: x\ntasks: []\n", "at least one task"),
        (GOOD.replace("runs: 500,", 'runs: 500, base_args: ["-n\\0"],'), "an argument cannot hold a NUL byte"),
        (GOOD.replace("runs: 500,", "runs: 500, base_args: -n,"), "testgen.base_args: Input should be a valid list"),
        (GOOD.replace("runs: 500,", "runs: 500, files: {../key: x},"), "must stay inside the work directory"),
        ("[" * 700 + "]" * 700, "nested too deeply"),
    ],
)
def test_hostile_manifests_are_one_line_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(FormatError) as caught:
        load_manifest(write(tmp_path, text))
    message = str(caught.value)
    assert expected in message and "\n" not in message, message


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    bomb = "\n".join(lines) + "\nformat: twinbench-collection-1\nname: x\ntasks: *a8\n"
    started = time.monotonic()
    with pytest.raises(FormatError, match="tasks"):
        load_manifest(write(tmp_path, bomb))
    assert time.monotonic() - started < 5


def test_unreadable_manifests(tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="cannot read it"):
        load_manifest(tmp_path / "missing.yaml")
    (tmp_path / "collection.yaml").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(FormatError, match="not UTF-8"):
        load_manifest(tmp_path)
