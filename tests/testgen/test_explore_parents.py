"""Which explored inputs are mutated as accepted parents (testgen/generate.py)."""

from __future__ import annotations

from twinbench.testgen.explore import Candidate, Outcome
from twinbench.testgen.generate import _accepted_parent
from twinbench.testgen.probe import ProbeRun, ReferenceProbes
from twinbench.testgen.record import CaseSpec


def candidate(argv: list[str], status: int, stdout: bytes) -> Candidate:
    outcome = Outcome(status=status, stdout_head=stdout, stdout_size=len(stdout))
    return Candidate(spec=CaseSpec(id="c", argv=argv), status=status, outcome=outcome)


def test_accepted_parents_leave_out_runs_that_only_print_the_version_or_help() -> None:
    # ninja accepts `--version` followed by anything: before, its mutants filled the corpus with "1.11.1"
    probes = ReferenceProbes(exact=[ProbeRun(argv=["--version"], status=0, stdout=b"1.11.1\n")])
    accepted = _accepted_parent(probes)
    assert not accepted(candidate(["-j", "1", "--version", "x"], 0, b"1.11.1\n"))
    assert accepted(candidate(["--quiet"], 0, b"this is a demo of bar\n"))
    assert not accepted(candidate(["-t", "nope"], 1, b""))
    assert _accepted_parent(None)(candidate(["--version"], 0, b"1.11.1\n"))  # without probes: exit 0 is enough
