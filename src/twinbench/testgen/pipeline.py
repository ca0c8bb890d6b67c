"""`twinbench testgen`: read a task's docs, doc model and data, run the generation stages, write the files.

This module is the only part of testgen that writes: cli_model.json (when it is mined here), task.yaml
(when the reference reads the clock), tests/suite.jsonl and tests/testgen.json.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from twinbench.formats import CoverageReport, FormatError, Suite, TaskDir, TestgenReport, dump_suite, save_task
from twinbench.protocols import Sandbox
from twinbench.reference.coverage import (
    CoverageBuild,
    features_of,
    guidance_settings,
    line_coverage,
    load_coverage_build,
)
from twinbench.reference.docmodel import CliModel, mine_named_docs
from twinbench.reference.upstream_tests import SourceTree, fetch_source, upstream_seeds
from twinbench.sandbox import WORK_DIR
from twinbench.sandbox.testrun import EXECUTABLE, environment_for
from twinbench.testgen.budget import WallClock
from twinbench.testgen.constants import source_numbers
from twinbench.testgen.explore import GCOV_DIR, LIBRARY_DIR, CoverageGuide
from twinbench.testgen.generate import GenerationInputs, TestgenOptions, generate_suite
from twinbench.testgen.mutants import target_from_coverage_build
from twinbench.testgen.record import CaseSpec
from twinbench.testgen.samples import formats_in_docs, sample_files
from twinbench.testgen.seeds import script_file_option, upstream_specs

CLI_MODEL = "cli_model.json"
TESTGEN_REPORT = "testgen.json"
DOC_TEXT_LIMIT = 200_000
DATA_FILE_LIMIT = 256 * 1024
DATA_FILE_COUNT = 200
NOT_DATA = ("/doc/", "/man/", "/locale/", "/info/")


def load_cli_model(task_dir: TaskDir) -> CliModel:
    """The task's parsed command-line model; mined from docs/ (and saved) when the task has none yet."""
    path = task_dir.root / CLI_MODEL
    if path.is_file():
        try:
            return CliModel.model_validate_json(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise FormatError(f"{path}: not a valid command-line model ({str(exc).splitlines()[0]})") from None
    named = {
        name: (task_dir.root / name).read_text(encoding="utf-8", errors="replace")
        for name in task_dir.task.docs
        if (task_dir.root / name).is_file()
    }
    model = mine_named_docs(Path(task_dir.task.reference.binary).name, named)
    path.write_text(model.model_dump_json(indent=2), encoding="utf-8")
    return model


def source_for(task_dir: TaskDir, upstream_tests: bool = True) -> SourceTree | None:
    """The Debian source package of the task's reference (downloaded once, then cached), or None when the task
    has no package or its tests are not asked for. A download takes minutes on a slow mirror, so run_testgen
    does this before the wall-time cap starts."""
    package = task_dir.task.reference.debian_package
    if not upstream_tests or package is None:
        return None
    return fetch_source(package)


def read_generation_inputs(
    task_dir: TaskDir, model: CliModel, upstream_tests: bool = True, source: SourceTree | None = None
) -> GenerationInputs:
    """What generation reads from the task directory and the reference's package (and its source's tests:
    `source`, or fetched here when not given)."""
    if source is None:
        source = source_for(task_dir, upstream_tests)
    data_paths = package_data_paths(task_dir)
    upstream, note = upstream_test_specs(task_dir, model, source) if upstream_tests else ([], "not asked for")
    docs_text = "\n".join(text[:DOC_TEXT_LIMIT] for text in doc_texts(task_dir))
    return GenerationInputs(
        task=task_dir.task,
        model=model,
        docs_text=docs_text,
        vocabulary=vocabulary(model, data_paths),
        data_files=_read_data_files(data_paths),
        samples=format_samples(docs_text, source.path if source is not None else None),
        upstream=upstream,
        upstream_note=note,
        source_numbers=source_numbers(source.path if source is not None else None),
    )


def upstream_test_specs(task_dir: TaskDir, model: CliModel, source: SourceTree | None) -> tuple[list[CaseSpec], str]:
    """The Debian source package's own tests as seeds, and a note for testgen.json on where they came from."""
    if source is None:
        return [], "no Debian package"
    if source.path is None:
        return [], source.error or "no source"
    option = script_file_option(model)
    program = Path(task_dir.task.reference.binary).name
    seeds = upstream_seeds(source.path, program, option.flags[0] if option else None)
    return upstream_specs(seeds), f"{source.package} {source.version}: {len(seeds)} invocations"


def format_samples(docs_text: str, tree: Path | None) -> list[tuple[str, bytes]]:
    """Sample files of the formats the docs say the program reads, from its source tree or the machine."""
    formats = formats_in_docs(docs_text)
    if not formats:
        return []
    return sample_files(formats, tree)


def run_testgen(
    task_dir: TaskDir,
    sandbox: Sandbox,
    options: TestgenOptions,
    coverage_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> TestgenReport:
    """Generate tests/suite.jsonl and tests/testgen.json for a task.

    The Debian source (upstream tests, format samples) is fetched first, as a phase of its own: `--budget-s`
    caps generation, from reading the inputs to the coverage replay, not a download whose time depends on the
    mirror (a first testgen of brotli spent its whole 60 s in `apt-get source` and kept one case)."""
    if on_progress is not None:
        on_progress("fetching source", 0, 1)
    fetch_started = time.monotonic()
    source = source_for(task_dir, options.upstream_tests)
    source_seconds = round(time.monotonic() - fetch_started, 2)
    clock = WallClock(None if options.runs else options.budget_s)
    model = load_cli_model(task_dir)
    build = load_coverage_build(coverage_dir) if coverage_dir is not None else None
    guide = None
    if build is not None:
        env, collect, files = guidance_settings(build, f"{WORK_DIR}/{GCOV_DIR}", f"{WORK_DIR}/{LIBRARY_DIR}")
        guide = CoverageGuide(
            binary=build.binary,
            strip_components=build.strip_components,
            gcda_files=build.gcda_files,
            env=env,
            collect=collect,
            files=files,
            libraries=build.libraries,
        )
    if options.mutants and build is None:
        raise FormatError("--mutants needs --coverage-build: mutants are made from the coverage build's sources")
    target = target_from_coverage_build(build) if options.mutants and build is not None else None
    generated = generate_suite(
        read_generation_inputs(task_dir, model, options.upstream_tests, source),
        sandbox,
        options,
        guide,
        features_of,
        on_progress,
        clock,
        target,
    )
    if generated.task != task_dir.task:
        save_task(generated.task, task_dir.root)
    (task_dir.root / "tests").mkdir(exist_ok=True)
    dump_suite(generated.suite, task_dir.suite_path)
    report = generated.report
    if build is not None:
        if on_progress is not None:
            on_progress("coverage", 0, len(generated.suite))
        coverage = measure_coverage(build, task_dir, generated.suite, on_progress)
        report = report.model_copy(update={"coverage": coverage})
    report = report.model_copy(update={"seconds": round(clock.elapsed(), 2), "source_seconds": source_seconds})
    (task_dir.root / "tests" / TESTGEN_REPORT).write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return report


def measure_coverage(
    build: CoverageBuild,
    task_dir: TaskDir,
    suite: Suite,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> CoverageReport:
    """Line coverage of the final suite: run every case with the instrumented reference, counters read back."""
    return line_coverage(build, suite_runner(build, task_dir, suite, on_progress))


def suite_runner(
    build: CoverageBuild,
    task_dir: TaskDir,
    suite: Suite,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> Callable[[dict[str, str]], None]:
    """What runs every case with the instrumented reference, given the counters' environment."""

    def run_all(env_extra: dict[str, str]) -> None:
        for number, case in enumerate(suite.cases, start=1):
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
            if on_progress is not None and (number % 16 == 0 or number == len(suite.cases)):
                on_progress("coverage", number, len(suite.cases))

    return run_all


def vocabulary(model: CliModel, data_paths: list[str]) -> list[str]:
    """Words worth trying as values: choices in the docs, example arguments, names of the package's data files."""
    words: list[str] = []
    for option in model.options:
        words.extend(option.choices)
    for example in model.examples:
        words.extend(arg for arg in example if not arg.startswith("-"))
    words.extend(Path(path).stem for path in data_paths)
    unique = list(dict.fromkeys(word for word in words if word and len(word) < 40))
    return unique or ["hello"]


def package_data_paths(task_dir: TaskDir) -> list[str]:
    """Files the reference's package installs under a share/ dir that are data, not documentation."""
    return [
        name
        for name in task_dir.task.reference.hidden_paths
        if "/share/" in name and not any(part in name for part in NOT_DATA)
    ]


def _read_data_files(paths: list[str]) -> list[tuple[str, bytes]]:
    """The package's own data files (fonts, tables, examples), readable here while generating."""
    found: list[tuple[str, bytes]] = []
    for name in paths:
        path = Path(name)
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= DATA_FILE_LIMIT:
                found.append((name, path.read_bytes()))
        except OSError:
            continue
    return found[:DATA_FILE_COUNT]


def doc_texts(task_dir: TaskDir) -> list[str]:
    """The texts of the task's docs that exist."""
    return [
        (task_dir.root / name).read_text(encoding="utf-8", errors="replace")
        for name in task_dir.task.docs
        if (task_dir.root / name).is_file()
    ]
