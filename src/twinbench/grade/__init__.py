"""Build a submission, run a suite against it, compare, score and write results."""

from twinbench.grade.build import BUILD_SCRIPT, NO_BUILD_SCRIPT
from twinbench.grade.compare import streams_match
from twinbench.grade.evaluate import EvalOptions, evaluate
from twinbench.grade.judge import judge

__all__ = ["BUILD_SCRIPT", "NO_BUILD_SCRIPT", "EvalOptions", "evaluate", "judge", "streams_match"]
