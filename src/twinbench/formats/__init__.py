"""On-disk formats: task directory, test suite, submission and eval results (pydantic v2 models)."""

from twinbench.formats.agent import (
    DEFAULT_DISK_LIMIT_MB,
    TRAJECTORY_FORMAT,
    ActionResult,
    AgentRunRecord,
    ModelReply,
    RunStats,
    StepRecord,
    TokenUsage,
)
from twinbench.formats.atomic import write_text_atomic
from twinbench.formats.errors import FormatError, first_error
from twinbench.formats.limits import ArchiveLimits, GradingLimits, Limits
from twinbench.formats.result import BuildRecord, EvalResult, TestResult, TestStatus
from twinbench.formats.suite import (
    CompareMode,
    Comparison,
    Expectation,
    Suite,
    TestCase,
    dump_suite,
    load_suite,
    suite_digest,
)
from twinbench.formats.summary import TaskSummary, find_task_dirs, summarize_task
from twinbench.formats.task import ReferenceSpec, Task, TaskDir, TaskLimits, load_task, save_task
from twinbench.formats.testgen import (
    AcceptedShare,
    CoverageReport,
    FileCoverage,
    Mutant,
    MutationReport,
    TestgenReport,
    ValidityReport,
)

__all__ = [
    "DEFAULT_DISK_LIMIT_MB",
    "TRAJECTORY_FORMAT",
    "AcceptedShare",
    "ActionResult",
    "AgentRunRecord",
    "ArchiveLimits",
    "BuildRecord",
    "CompareMode",
    "Comparison",
    "CoverageReport",
    "EvalResult",
    "Expectation",
    "FileCoverage",
    "FormatError",
    "GradingLimits",
    "Limits",
    "ModelReply",
    "Mutant",
    "MutationReport",
    "ReferenceSpec",
    "RunStats",
    "StepRecord",
    "Suite",
    "Task",
    "TaskDir",
    "TaskLimits",
    "TaskSummary",
    "TestCase",
    "TestResult",
    "TestStatus",
    "TestgenReport",
    "TokenUsage",
    "ValidityReport",
    "dump_suite",
    "find_task_dirs",
    "first_error",
    "load_suite",
    "load_task",
    "save_task",
    "suite_digest",
    "summarize_task",
    "write_text_atomic",
]
