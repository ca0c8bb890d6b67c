"""`twinbench testgen`: load a task's doc model and optional coverage build, then generate its suite."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from twinbench.formats import CoverageReport, FormatError, Suite, TaskDir, TestgenReport
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import (
    CoverageBuild,
    features_of,
    guidance_settings,
    line_coverage,
    load_coverage_build,
)
from twinbench.reference.docmodel import CliModel, mine_docs
from twinbench.sandbox import WORK_DIR
from twinbench.sandbox.testrun import EXECUTABLE, environment_for
from twinbench.testgen.generate import GCOV_DIR, CoverageGuide, TestgenOptions, generate_suite

CLI_MODEL = "cli_model.json"


def load_cli_model(task_dir: TaskDir) -> CliModel:
    """The task's parsed command-line model; mined from docs/ (and saved) when the task has none yet."""
    path = task_dir.root / CLI_MODEL
    if path.is_file():
        try:
            return CliModel.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise FormatError(f"{path}: not a valid command-line model ({str(exc).splitlines()[0]})") from None
    texts = [
        (task_dir.root / name).read_text(encoding="utf-8", errors="replace")
        for name in task_dir.task.docs
        if (task_dir.root / name).is_file()
    ]
    model = mine_docs(Path(task_dir.task.reference.binary).name, texts)
    path.write_text(model.model_dump_json(indent=2), encoding="utf-8")
    return model


def run_testgen(
    task_dir: TaskDir,
    sandbox: Sandbox,
    options: TestgenOptions,
    coverage_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> TestgenReport:
    """Generate tests/suite.jsonl and tests/testgen.json for a task."""
    model = load_cli_model(task_dir)
    build = load_coverage_build(coverage_dir) if coverage_dir is not None else None
    guide = None
    measure: Callable[[Suite], CoverageReport] | None = None
    if build is not None:
        env, collect, files = guidance_settings(build, f"{WORK_DIR}/{GCOV_DIR}")
        guide = CoverageGuide(
            binary=build.binary,
            strip_components=build.strip_components,
            gcda_files=build.gcda_files,
            env=env,
            collect=collect,
            files=files,
        )
        measure = lambda suite: _measure(build, task_dir, suite)  # noqa: E731
    (task_dir.root / "tests").mkdir(exist_ok=True)
    return generate_suite(task_dir, model, sandbox, options, guide, features_of, measure, on_progress)


def _measure(build: CoverageBuild, task_dir: TaskDir, suite: Suite) -> CoverageReport:
    """Line coverage of the final suite: every case run with the instrumented reference, counters read back."""

    def run_all(env_extra: dict[str, str]) -> None:
        for case in suite.cases:
            with tempfile.TemporaryDirectory(prefix="twinbench-cov-") as work:
                for name, content in case.files.items():
                    target = Path(work) / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(content)
                env = {**environment_for(task_dir.task, case), **env_extra, "HOME": work}
                try:
                    subprocess.run(
                        [EXECUTABLE, *case.argv],
                        executable=build.binary,
                        cwd=work,
                        input=case.stdin,
                        env=env,
                        capture_output=True,
                        timeout=case.timeout_s,
                        check=False,
                    )
                except subprocess.TimeoutExpired:
                    pass

    return line_coverage(build, run_all)
