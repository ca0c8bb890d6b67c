"""Values an option lists itself (testgen/listings.py): ninja's `-t TOOL (use '-t list' to list subtools)`."""

from __future__ import annotations

import textwrap
from pathlib import Path

from twinbench.formats import ReferenceSpec, Task
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.testgen.listings import listed_values, listing_calls, with_listed_choices

NINJA_LIST = """\
ninja subtools:
     browse  browse dependency graph in a web browser
      clean  clean built files
    targets  list targets by their rule or depth in the DAG
"""


def ninja_like_model() -> CliModel:
    tool = "run a subtool (use '-t list' to list subtools)"
    return CliModel(
        program="tool",
        options=[
            OptionSpec(flags=["-t"], takes_value=True, value_hint="TOOL", description=tool),
            OptionSpec(flags=["-j"], takes_value=True, value_hint="N", description="run N jobs in parallel"),
        ],
    )


def test_the_listing_call_is_read_off_the_description_and_its_rows_become_values() -> None:
    assert listing_calls(ninja_like_model()) == {"-t": ["-t", "list"]}
    assert listed_values(NINJA_LIST) == ["browse", "clean", "targets"]


def test_the_reference_is_asked_for_the_listing(tmp_path: Path, bwrap: Sandbox) -> None:
    program = tmp_path / "tool.sh"
    program.write_text("#!/bin/sh\n" + textwrap.dedent(f"""\
        [ "$1 $2" = "-t list" ] && {{ printf '%s' '{NINJA_LIST}'; exit 0; }}
        exit 1
    """))  # fmt: skip
    program.chmod(0o755)
    task = Task(id="tool", reference=ReferenceSpec(binary=str(program)))
    model = with_listed_choices(task, ninja_like_model(), bwrap, workers=1)
    assert [option.choices for option in model.options] == [["browse", "clean", "targets"], []]
