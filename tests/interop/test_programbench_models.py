"""score.json entries and the headline, against ProgramBench's own functions."""

from __future__ import annotations

import json
from pathlib import Path

from programbench.submission import aggregate
from programbench.submission import test_results_map as pb_test_results_map

from twinbench.interop.programbench.models import (
    PBEvaluationResult,
    PBTestResult,
    TestsSpec,
    counted_results,
    headline,
    score_from_tests,
)

TESTS = TestsSpec.model_validate(
    {
        "branches": {
            "aaaaaaaaaaaa": {
                "ignored": False,
                "ignore_reason": "",
                "tests": ["t.a", "t.b", "t.c"],
                "ignored_tests": [{"name": "t.c", "reasons": [{"id": "flaky"}]}],
            },
            "bbbbbbbbbbbb": {"ignored": True, "ignore_reason": "broken", "tests": ["t.d"], "ignored_tests": []},
        }
    }
)


def test_counted_tests_leave_out_ignored_branches_and_tests_as_programbench_does(tmp_path: Path) -> None:
    result = PBEvaluationResult(
        test_branches=["aaaaaaaaaaaa", "bbbbbbbbbbbb"],
        test_results=[
            PBTestResult(name="t.a", branch="aaaaaaaaaaaa", status="passed"),
            PBTestResult(name="t.b", branch="aaaaaaaaaaaa", status="failure"),
            PBTestResult(name="t.c", branch="aaaaaaaaaaaa", status="failure"),
            PBTestResult(name="t.d", branch="bbbbbbbbbbbb", status="passed"),
        ],
    )
    path = tmp_path / "x.eval.json"
    path.write_text(result.model_dump_json())
    instance = {"instance_id": "x", **json.loads(TESTS.model_dump_json())}
    ours = counted_results(result, TESTS)
    assert ours == pb_test_results_map(path, instance)
    assert ours == {"aaaaaaaaaaaa/t.a": True, "aaaaaaaaaaaa/t.b": False}
    assert score_from_tests(ours) == 0.5
    assert score_from_tests({}) == 0.0


def test_headline_counts_missing_tasks_as_zero_like_programbench() -> None:
    scores = {"a": 1.0, "b": 0.96, "c": 0.5, "d": 0.0}
    ours = headline(scores, 200)
    theirs = aggregate(scores, 200)
    assert ours.model_dump() == theirs.as_dict()
    assert ours.mean_score == round(2.46 / 200, 4) and ours.resolved_pct == 0.5 and ours.near_resolved_pct == 1.0
