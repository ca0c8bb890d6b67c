"""Task directories made from real installed programs: figlet, jq and coreutils, plus a shell-script reference."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from twinbench.formats import FormatError, load_task
from twinbench.reference.docmodel import CliModel
from twinbench.reference.docs import MAX_DOC_BYTES, gather_docs
from twinbench.reference.taskgen import CLI_MODEL_FILE, create_task


def write_script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body).lstrip())
    path.chmod(0o755)
    return path


def test_create_task_for_figlet(tmp_path: Path) -> None:
    out = tmp_path / "figlet"
    created = create_task("figlet", out, debian="figlet")
    loaded = load_task(out)
    assert loaded == created
    reference = loaded.task.reference
    assert (reference.debian_package, reference.binary) == ("figlet", "figlet")
    assert "/usr/bin/figlet-figlet" in reference.hidden_paths  # the alternative's real target
    assert "/usr/share/figlet/standard.flf" in reference.hidden_paths
    assert loaded.task.description.startswith("FIGlet - display large characters")
    assert loaded.task.docs[0] == "docs/figlet-figlet.6.txt"
    assert all((out / name).is_file() for name in loaded.task.docs)
    assert "FIGlet" in (out / "docs/figlet-figlet.6.txt").read_text()
    help_text = (out / "docs/help.txt").read_text()
    assert "Usage: figlet [ -cklnoprstvxDELNRSWX ]" in help_text
    assert "/usr/bin" not in help_text  # "/usr/bin/figlet: invalid option" reads "figlet: invalid option"
    assert "docs/README" in loaded.task.docs  # README.gz from /usr/share/doc/figlet, decompressed
    assert not any("changelog" in name or "copyright" in name for name in loaded.task.docs)
    model = CliModel.model_validate_json((out / CLI_MODEL_FILE).read_text())
    assert model.program == "figlet"
    font = model.option("-f")
    assert font is not None and font.value_hint == "fontfile"
    assert (out / "tests").is_dir() and not any((out / "tests").iterdir())


def test_create_task_from_a_binary_path_detects_the_package(tmp_path: Path) -> None:
    created = create_task("jq", tmp_path / "jq", binary_path=Path("/usr/bin/jq"))
    reference = created.task.reference
    assert (reference.debian_package, reference.binary) == ("jq", "/usr/bin/jq")
    assert any("libjq" in path for path in reference.hidden_paths)  # the sibling library is hidden too
    model = json.loads((tmp_path / "jq" / CLI_MODEL_FILE).read_text())
    arg = next(spec for spec in model["options"] if "--arg" in spec["flags"])
    assert (arg["arity"], arg["takes_value"]) == (2, True)
    assert '{"foo": 42, "bar": "less interesting data"}' in model["example_inputs"]


def test_create_task_for_one_command_of_a_big_package(tmp_path: Path) -> None:
    created = create_task("sort", tmp_path / "sort", debian="coreutils", binary="sort")
    assert created.task.reference.binary == "sort"
    assert created.task.docs[0] == "docs/sort.1.txt"
    assert "docs/cat.1.txt" not in created.task.docs  # coreutils' other 100 pages would only be noise
    assert "/usr/bin/sort" in created.task.reference.hidden_paths


def test_create_task_from_a_script_with_extra_docs(tmp_path: Path) -> None:
    script = write_script(
        tmp_path / "bin" / "greet",
        """
        #!/bin/sh
        case "$1" in
          --help) echo "Usage: $0 [-l] [-n NAME] [MESSAGE]"; echo "  -n NAME   whom to greet";;
          --version) echo "greet 1.0";;
          *) echo hello;;
        esac
        """,
    )
    extra = tmp_path / "extra"
    (extra / "guide").mkdir(parents=True)
    (extra / "README.md").write_text("Run `greet -n Ada`.\n")
    (extra / "guide" / "usage.txt").write_text("    $ greet -n Ada\n")
    created = create_task("greet", tmp_path / "task", binary_path=script, docs=extra)
    reference = created.task.reference
    assert reference.debian_package is None
    assert reference.binary == str(script.resolve())
    assert reference.hidden_paths == [str(script.resolve())]
    assert created.task.docs == ["docs/help.txt", "docs/version.txt", "docs/README.md", "docs/guide/usage.txt"]
    assert str(tmp_path) not in (tmp_path / "task" / "docs" / "help.txt").read_text()
    model = CliModel.model_validate_json((tmp_path / "task" / CLI_MODEL_FILE).read_text())
    name = model.option("-n")
    assert name is not None and name.value_hint == "NAME"
    assert ["-n", "Ada"] in model.examples


def test_gather_docs_caps_output_and_skips_useless_text(tmp_path: Path) -> None:
    spew = write_script(
        tmp_path / "spew",
        """
        #!/bin/sh
        if [ "$1" = --help ]; then exec yes "usage: spew [-x]"; fi
        echo "spew: unknown option $1" >&2; exit 2
        """,
    )
    names = gather_docs(spew, None, tmp_path / "docs")
    assert names == ["docs/help.txt"]  # "unknown option --version" alone says nothing
    help_size = (tmp_path / "docs" / "help.txt").stat().st_size
    assert MAX_DOC_BYTES - 100 < help_size <= MAX_DOC_BYTES


def test_gather_docs_falls_back_to_man_by_command_name(tmp_path: Path) -> None:
    names = gather_docs(Path("/usr/bin/sort"), None, tmp_path / "docs")
    assert names[:2] == ["docs/sort.1.txt", "docs/help.txt"]
    assert "sort lines of text files" in (tmp_path / "docs" / "sort.1.txt").read_text()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"debian": "no-such-pkg"}, "package no-such-pkg is not installed; apt-get install no-such-pkg"),
        ({"debian": "libjq1"}, "installs no program"),
        ({"debian": "figlet", "binary": "twinbench-no-such-command"}, "is not installed"),
        ({"binary_path": Path("/nonexistent/prog")}, "is not installed"),
        ({}, "exactly one"),
        ({"debian": "figlet", "binary_path": Path("/usr/bin/figlet")}, "exactly one"),
    ],
)
def test_create_task_refuses_with_one_line(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(FormatError) as caught:
        create_task("t", tmp_path / "t", **kwargs)  # type: ignore[arg-type]  # each case passes valid types
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "t").exists()


def test_create_task_refuses_a_non_empty_dir_and_a_bad_name(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine\n")
    with pytest.raises(FormatError, match="not empty"):
        create_task("figlet", tmp_path / "busy", debian="figlet")
    assert [path.name for path in (tmp_path / "busy").iterdir()] == ["keep.txt"]
    with pytest.raises(FormatError, match="not valid"):
        create_task("bad name", tmp_path / "bad", debian="figlet")
    (tmp_path / "empty").mkdir()
    assert create_task("figlet", tmp_path / "empty", debian="figlet").task.id == "figlet"
