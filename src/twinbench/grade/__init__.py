"""Build a submission, run a suite against it, compare, score and write results."""

from twinbench.grade.compare import streams_match
from twinbench.grade.evaluate import EvalOptions, evaluate
from twinbench.grade.judge import judge

__all__ = ["EvalOptions", "evaluate", "judge", "streams_match"]
