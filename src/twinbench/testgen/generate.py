"""Coverage-guided test generation: synthesize invocations from the docs, keep what reaches new behavior.

The loop is a small grey-box fuzzer over whole command lines:
  seeds (doc examples, every option alone, option pairs, error paths)  ->  run in the sandbox
  -> features (gcov edges of a coverage build, plus behavioral features)  ->  keep novel inputs
  -> mutate kept inputs (options, values, stdin, files) until the execution budget is spent
  -> greedy set cover over features  ->  record the chosen cases on the real reference, 3 runs each,
     dropping or normalizing what is not deterministic, hangs, or a stub would pass.
The budget is a number of runs: --runs N, or --budget-s S turned into S * 300 runs (what a small C program
gets on two cores). A seed and a run budget give one suite. --budget-s also caps the wall time: a program too
slow to spend its runs in time stops early, and testgen.json says so (stopped_by: wall_time).
"""

from __future__ import annotations

import gzip
import heapq
import io
import itertools
import random
import re
import resource
import shutil
import tempfile
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import Suite, TaskDir, TestgenReport, dump_suite, save_task
from twinbench.protocols import Sandbox
from twinbench.reference import resolve_binary, stage_reference
from twinbench.reference.docmodel import CliModel, OptionSpec
from twinbench.sandbox import WORK_DIR, ExecRequest, ExecResult, SessionConfig
from twinbench.sandbox.pool import SessionPool
from twinbench.sandbox.testrun import request_for
from twinbench.testgen.inputs import InputKind, detect_kinds, generate, mutate_bytes, mutate_text, value_for_hint
from twinbench.testgen.record import CaseSpec, case_for_spec, record_reference

RUNS_PER_BUDGET_SECOND = 300
BATCH = 64
SEED_SHARE = 0.4
MAX_PAIRS = 600
GCOV_DIR = ".twinbench-gcov"
DEFAULT_CLOCK = "2024-01-02 03:04:05"
PROBE_CLOCK = "2031-05-06 07:08:09"
CASE_TIMEOUT_S = 10.0
INPUT_FILE = "in.txt"

Feature = tuple[object, ...]


class TestgenOptions(BaseModel):
    """Knobs of one generation run."""

    __test__ = False
    budget_s: float = Field(default=60.0, gt=0)
    runs: int | None = Field(default=None, gt=0, description="exact run budget, with no time cap")
    seed: int = 0
    max_tests: int = Field(default=1000, gt=0)
    workers: int = 2


class CoverageGuide(BaseModel):
    """What testgen needs from a coverage build (see twinbench.reference.coverage)."""

    binary: Path
    strip_components: int
    gcda_files: list[str]
    # how a run writes its counters (twinbench.reference.coverage.guidance_settings); empty means gcc's .gcda
    env: dict[str, str] = Field(default_factory=dict)
    collect: list[str] = Field(default_factory=list)
    files: dict[str, bytes] = Field(default_factory=dict)


@dataclass(frozen=True)
class Candidate:
    """A generated invocation and, once run, the features it reached (a dataclass: thousands are made)."""

    spec: CaseSpec
    features: frozenset[Feature] = frozenset()
    status: int | None = None


def generate_suite(
    task_dir: TaskDir,
    model: CliModel,
    sandbox: Sandbox,
    options: TestgenOptions,
    coverage: CoverageGuide | None = None,
    features_of: Callable[[dict[str, bytes | None]], frozenset[Feature]] | None = None,
    measure_coverage: Callable[[Suite], object] | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> TestgenReport:
    """Generate, select and record a suite into task_dir/tests; returns what tests/testgen.json holds."""
    started = time.monotonic()
    cpu_start = _cpu_seconds()
    rng = random.Random(options.seed)
    task = task_dir.task
    docs_text = _docs_text(task_dir)
    vocabulary = _vocabulary(task_dir, model)
    synth = Synthesizer(model, rng, detect_kinds(docs_text), vocabulary, _data_files(task_dir))
    budget = options.runs or max(50, int(options.budget_s * RUNS_PER_BUDGET_SECOND))
    deadline = None if options.runs else started + options.budget_s

    with tempfile.TemporaryDirectory(prefix="twinbench-testgen-") as scratch:
        tree = Path(scratch)
        if coverage is not None:
            shutil.copy2(coverage.binary, tree / "executable")
        else:
            stage_reference(resolve_binary(task.reference.binary), tree)
        explorer = Explorer(task_dir, sandbox, tree, options.workers, coverage, features_of, vocabulary)
        try:
            seeds = list(itertools.islice(synth.seeds(), int(budget * SEED_SHARE)))
            stopped_by = "budget"
            for start in range(0, len(seeds), BATCH * 4):
                if deadline is not None and time.monotonic() > deadline:
                    stopped_by = "wall_time"
                    break
                explorer.run(seeds[start : start + BATCH * 4])
                if on_progress is not None:
                    on_progress("exploring", explorer.executions, budget)
            while stopped_by == "budget" and explorer.executions < budget and explorer.corpus:
                if deadline is not None and time.monotonic() > deadline:
                    stopped_by = "wall_time"
                    break
                size = min(BATCH, budget - explorer.executions)
                explorer.run([synth.mutate(explorer.pick(rng), explorer.corpus_specs()) for _ in range(size)])
                if on_progress is not None:
                    on_progress("exploring", explorer.executions, budget)
        finally:
            explorer.pool.close()

    selected = select_cover(explorer.corpus, options.max_tests)
    specs = [
        candidate.spec.model_copy(update={"id": f"t{number:04d}", "group": _group(candidate)})
        for number, candidate in enumerate(selected)
    ]
    if on_progress is not None:
        on_progress("recording", 0, len(specs))
    if task.clock is None and _reads_the_clock(task_dir, specs, sandbox, options.workers):
        task = task.model_copy(update={"clock": DEFAULT_CLOCK})
        save_task(task, task_dir.root)
    suite, record = record_reference(task, specs, sandbox, workers=options.workers)
    dump_suite(suite, task_dir.suite_path)
    coverage_report = measure_coverage(suite) if measure_coverage is not None else None
    report = TestgenReport(
        task=task.id,
        seed=options.seed,
        budget_s=options.budget_s,
        execution_budget=budget,
        executions=explorer.executions,
        stopped_by=stopped_by,
        seconds=round(time.monotonic() - started, 2),
        cpu_seconds=round(_cpu_seconds() - cpu_start, 2),
        guidance="coverage" if coverage is not None else "behavior",
        features=len(explorer.seen),
        corpus=len(explorer.corpus),
        selected=len(specs),
        kept=len(suite),
        coverage=coverage_report,
        groups=dict(sorted(Counter(case.group for case in suite.cases).items())),
        dropped=record.dropped,
        dropped_by_reason=dict(Counter(reason.split(":")[0] for reason in record.dropped.values())),
        normalized=record.normalized,
    )
    (task_dir.root / "tests" / "testgen.json").write_text(report.model_dump_json(indent=2), encoding="utf-8")
    return report


class Explorer:
    """Runs candidates in the sandbox and keeps the ones that reach something new."""

    def __init__(
        self,
        task_dir: TaskDir,
        sandbox: Sandbox,
        tree: Path,
        workers: int,
        coverage: CoverageGuide | None,
        features_of: Callable[[dict[str, bytes | None]], frozenset[Feature]] | None,
        vocabulary: list[str],
    ) -> None:
        self.task = task_dir.task
        self.config = SessionConfig(tree=tree, disk_mb=self.task.limits.test.disk_mb)
        self.coverage = coverage
        self.features_of = features_of
        self.pool = SessionPool(sandbox, self.config, workers)
        self.vocabulary = frozenset(vocabulary)
        self.seen: set[Feature] = set()
        self.corpus: list[Candidate] = []
        self.executions = 0
        self._picks: Counter[int] = Counter()

    def run(self, specs: list[CaseSpec]) -> None:
        """Run a batch; results are merged in batch order, so parallelism never changes the outcome."""
        if not specs:
            return
        results: dict[int, ExecResult] = {}
        self.pool.map([(index, self._request(spec)) for index, spec in enumerate(specs)], results.__setitem__)
        self.executions += len(specs)
        for index, spec in enumerate(specs):
            result = results[index]
            if result.sandbox_error is not None or result.timed_out:
                continue
            features = self._features(spec, result)
            if not features <= self.seen:
                self.seen |= features
                self.corpus.append(Candidate(spec=spec, features=features, status=result.status))

    def pick(self, rng: random.Random) -> Candidate:
        """A corpus entry to mutate: rarely picked, feature-rich entries first."""
        if not self.corpus:
            raise RuntimeError("no corpus")
        weights = [(len(c.features) + 1) / (1 + self._picks[i]) for i, c in enumerate(self.corpus)]
        index = rng.choices(range(len(self.corpus)), weights=weights)[0]
        self._picks[index] += 1
        return self.corpus[index]

    def corpus_specs(self) -> list[CaseSpec]:
        """Kept inputs, donors for splicing."""
        return [candidate.spec for candidate in self.corpus]

    def _request(self, spec: CaseSpec) -> ExecRequest:
        request = request_for(self.task, case_for_spec(spec))
        if self.coverage is not None and self.coverage.env:
            request.env.update(self.coverage.env)
            request.collect = sorted({*request.collect, *self.coverage.collect})
            request.files = {**self.coverage.files, **request.files}
        elif self.coverage is not None:
            request.env["GCOV_PREFIX"] = f"{WORK_DIR}/{GCOV_DIR}"
            request.env["GCOV_PREFIX_STRIP"] = str(self.coverage.strip_components)
            request.collect = sorted({*request.collect, *(f"{GCOV_DIR}/{name}" for name in self.coverage.gcda_files)})
        return request

    def _features(self, spec: CaseSpec, result: ExecResult) -> frozenset[Feature]:
        features = set(behavior_features(spec, result, self.vocabulary))
        if self.coverage is not None and self.features_of is not None:
            gcda = {name: data for name, data in result.files.items() if name.startswith(GCOV_DIR + "/")}
            features |= self.features_of(gcda)
        return frozenset(features)


def behavior_features(spec: CaseSpec, result: ExecResult, vocabulary: frozenset[str]) -> Iterable[Feature]:
    """What a run did, coarsely: exit status, kind of error message, shape of output, documented values that worked."""
    yield ("exit", result.status)
    if result.stderr:
        first_line = result.stderr.splitlines()[0][:120].decode("utf-8", errors="replace")
        yield ("stderr", re.sub(r"[0-9]+", "N", re.sub(r"'[^']*'|\"[^\"]*\"", "Q", first_line)))
    lines = result.stdout.splitlines()
    width = max((len(line) for line in lines), default=0)
    yield ("shape", result.status, _bucket(len(lines)), _bucket(width))
    yield ("chars", result.status, _char_classes(result.stdout))
    for arg in spec.argv:
        if arg.startswith("-") and len(arg) < 40:
            yield ("flag", arg.split("=")[0], result.status)
    if result.status == 0:
        # data-driven programs (fonts, formats, locales) behave differently per documented value, with the
        # same code: keep one working run per such value; mutated junk values are not features
        for flag, value in itertools.pairwise(spec.argv):
            if flag.startswith("-") and value in vocabulary:
                yield ("value", flag, value)


def select_cover(corpus: list[Candidate], limit: int) -> list[Candidate]:
    """Greedy set cover: the fewest candidates that keep every feature, most valuable first.

    Code coverage comes first: when the limit bites, behavioral features give way before source edges do.
    """
    chosen: list[int] = []
    for wanted in (_is_code_feature, lambda feature: True):
        uncovered = {f for c in corpus for f in c.features if wanted(f)}
        for index in chosen:
            uncovered -= corpus[index].features
        # lazy greedy: a candidate's gain only shrinks as others are chosen, so a stale heap entry that
        # still beats the next one after recomputing is the true best (ties go to the earlier candidate)
        heap = [(-len(c.features & uncovered), i) for i, c in enumerate(corpus) if i not in chosen]
        heapq.heapify(heap)
        while uncovered and heap and len(chosen) < limit:
            _, index = heapq.heappop(heap)
            gain = len(corpus[index].features & uncovered)
            if gain == 0:
                continue
            if heap and (-gain, index) > heap[0]:
                heapq.heappush(heap, (-gain, index))
                continue
            chosen.append(index)
            uncovered -= corpus[index].features
    return [corpus[index] for index in chosen]


def _is_code_feature(feature: Feature) -> bool:
    """Code features are keyed by their counter file (.gcda, .profraw, Go covcounters); behavioral ones by a tag."""
    return isinstance(feature[0], str) and (feature[0].endswith(".gcda") or feature[0].startswith(GCOV_DIR + "/"))


class Synthesizer:
    """Makes invocations from the doc model: seeds first, then mutations of interesting ones."""

    def __init__(
        self,
        model: CliModel,
        rng: random.Random,
        kinds: list[InputKind],
        vocabulary: list[str],
        data_files: list[tuple[str, bytes]],
    ) -> None:
        self.model = model
        self.rng = rng
        self.kinds = kinds
        self.vocabulary = vocabulary
        self.texts = [*model.example_inputs]
        self.data_files = data_files
        self._pending_files: dict[str, bytes] = {}
        self.counter = 0

    def seeds(self) -> Iterable[CaseSpec]:
        """Doc examples, each option alone, option pairs, plain inputs and error paths."""
        for example in self.model.examples:
            yield self._spec(list(example))
            yield self._spec(list(example), stdin=self._input())
        for _ in range(3):
            yield self._spec(self._positionals())
        for kind in self.kinds:
            for _ in range(3):
                yield self._spec([], stdin=generate(kind, self.rng))
        for option in self.model.options:
            for _ in range(3 if option.takes_value else 1):
                yield self._spec([*self._use(option), *self._positionals()])
                yield self._spec(self._use(option), stdin=self._input())
        yield from self._errors()
        pairs = list(itertools.combinations(self.model.options, 2))
        self.rng.shuffle(pairs)
        for first, second in pairs[:MAX_PAIRS]:
            yield self._spec([*self._use(first), *self._use(second), *self._positionals()])
        for first, second, third in itertools.islice(itertools.combinations(self.model.options, 3), MAX_PAIRS):
            if self.rng.random() < 0.1:
                yield self._spec([*self._use(first), *self._use(second), *self._use(third), *self._positionals()])

    def mutate(self, parent: Candidate, donors: list[CaseSpec]) -> CaseSpec:
        """A variation of a kept input: its options, values, arguments, stdin or files."""
        spec = parent.spec
        argv = list(spec.argv)
        stdin = spec.stdin.decode("utf-8", errors="replace")
        choice = self.rng.randrange(8)
        if choice == 0 and self.model.options:
            position = self.rng.randint(0, len(argv))
            argv[position:position] = self._use(self.rng.choice(self.model.options))
        elif choice == 1 and argv:
            del argv[self.rng.randrange(len(argv))]
        elif choice == 2 and argv:
            index = self.rng.randrange(len(argv))
            argv[index] = mutate_text(argv[index], self.rng, self.vocabulary) or argv[index]
        elif choice == 3 and donors:
            donor = self.rng.choice(donors)
            argv = argv[: self.rng.randint(0, len(argv))] + donor.argv[self.rng.randint(0, len(donor.argv)) :]
        elif choice == 4:
            stdin = mutate_text(stdin, self.rng, [d.stdin.decode("utf-8", "replace") for d in donors[-50:]])
        elif choice == 5:
            stdin = self._input()
        elif choice == 6 and spec.files:
            files = dict(spec.files)
            name = self.rng.choice(sorted(files))
            files[name] = mutate_bytes(files[name], self.rng)
            return self._spec(argv, stdin=stdin, inherited=files)
        elif choice == 6 and argv:
            index = self.rng.randrange(len(argv))
            argv[index] = value_for_hint(None, self.rng, self.vocabulary)
        else:
            argv = [*self._use(self.rng.choice(self.model.options)), *argv] if self.model.options else argv
        return self._spec(argv, stdin=stdin, inherited=spec.files)

    def _use(self, option: OptionSpec) -> list[str]:
        flag = self.rng.choice(option.flags)
        if not option.takes_value:
            return [flag]
        hint = (option.value_hint or "").lower()
        if ("file" in hint or "path" in hint) and self.data_files and self.rng.random() < 0.6:
            return [flag, self._data_file_argument(option.description)]
        values = [
            value_for_hint(option.value_hint, self.rng, option.choices or self.vocabulary)
            for _ in range(max(1, getattr(option, "arity", 1)))
        ]
        if flag.startswith("--") and self.rng.random() < 0.5 and len(values) == 1:
            return [f"{flag}={values[0]}"]
        return [flag, *values]

    def _data_file_argument(self, description: str) -> str:
        """An input file made from one of the package's own data files: as is, compressed, or damaged."""
        suffixes = set(re.findall(r"\.[A-Za-z]{2,4}\b", description))
        preferred = [item for item in self.data_files if Path(item[0]).suffix in suffixes] or self.data_files
        name, content = self.rng.choice(preferred)
        suffix = Path(name).suffix
        variant = self.rng.random()
        if variant < 0.15:
            content = _zip_member(Path(name).name, content)
        elif variant < 0.25:
            content = gzip.compress(content, mtime=0)
        elif variant < 0.45:
            content = mutate_bytes(content, self.rng)
        file_name = f"data{suffix}"
        self._pending_files[file_name] = content
        # programs that add a default suffix themselves get the bare name half of the time
        return file_name[: -len(suffix)] if suffix and self.rng.random() < 0.5 else file_name

    def _positionals(self) -> list[str]:
        hints = self.model.positionals or ["text"]
        words: list[str] = []
        for hint in hints[:2]:
            if "file" in hint.lower():
                words.append(INPUT_FILE)
            elif self.model.examples and self.rng.random() < 0.3:
                example = self.rng.choice(self.model.examples)
                words.extend(arg for arg in example if not arg.startswith("-"))
            else:
                words.extend(
                    self.rng.choice([w for w in self.vocabulary[:50]] or ["hello"])
                    for _ in range(self.rng.randint(1, 2))
                )
        return words

    def _input(self) -> str:
        if self.texts and self.rng.random() < 0.4:
            return self.rng.choice(self.texts)
        return generate(self.rng.choice(self.kinds), self.rng)

    def _errors(self) -> Iterable[CaseSpec]:
        yield self._spec(["--definitely-not-an-option"])
        used = {flag[1] for option in self.model.options for flag in option.flags if len(flag) == 2}
        unused = [letter for letter in "ZQjJyY" if letter not in used]
        if unused:
            yield self._spec([f"-{unused[0]}"])
        for option in self.model.options:
            if option.takes_value:
                yield self._spec([option.flags[0]])  # value missing
        yield self._spec(["missing.txt"])
        for kind in self.kinds:
            broken = generate(kind, self.rng)
            yield self._spec([], stdin=broken[: len(broken) // 2] + "\x00\xff")

    def _spec(self, argv: list[str], stdin: str = "", inherited: dict[str, bytes] | None = None) -> CaseSpec:
        self.counter += 1
        files = dict(inherited or {})
        files.update(self._pending_files)
        self._pending_files = {}
        if INPUT_FILE not in files and (INPUT_FILE in argv or any(arg.endswith("=" + INPUT_FILE) for arg in argv)):
            files[INPUT_FILE] = self._input().encode()
        return CaseSpec(
            id=f"c{self.counter}",
            argv=argv[:40],
            stdin=stdin.encode("utf-8", errors="surrogateescape")[:65536],
            files=files,
            timeout_s=CASE_TIMEOUT_S,
        )


def _reads_the_clock(task_dir: TaskDir, specs: list[CaseSpec], sandbox: Sandbox, workers: int) -> bool:
    """Does some case's output follow the clock? Only a case that is stable under each of two frozen times
    and differs between them counts: a flaky case says nothing about the clock."""
    runs = []
    for clock in (DEFAULT_CLOCK, PROBE_CLOCK, DEFAULT_CLOCK, PROBE_CLOCK):
        probe_task = task_dir.task.model_copy(update={"clock": clock})
        suite, _ = record_reference(probe_task, specs, sandbox, workers=workers, repeats=1)
        runs.append({case.id: case.expect for case in suite.cases})
    first, other, first_again, other_again = runs
    return any(
        key in other
        and first[key] == first_again.get(key)
        and other[key] == other_again.get(key)
        and first[key] != other[key]
        for key in first
    )


def _group(candidate: Candidate) -> str:
    if candidate.status not in (0, None):
        return "errors"
    flags = [arg.split("=")[0] for arg in candidate.spec.argv if arg.startswith("-") and arg != "-"]
    if flags:
        return "option" + flags[0] if flags[0].startswith("--") else "option" + flags[0][:2]
    return "stdin" if candidate.spec.stdin else "args"


def _docs_text(task_dir: TaskDir) -> str:
    texts = []
    for name in task_dir.task.docs:
        path = task_dir.root / name
        if path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace")[:200_000])
    return "\n".join(texts)


def _vocabulary(task_dir: TaskDir, model: CliModel) -> list[str]:
    """Words worth trying as values: choices in the docs, example arguments, names of the package's data files."""
    words: list[str] = []
    for option in model.options:
        words.extend(option.choices)
    for example in model.examples:
        words.extend(arg for arg in example if not arg.startswith("-"))
    words.extend(Path(path).stem for path in _package_data_paths(task_dir))
    unique = list(dict.fromkeys(word for word in words if word and len(word) < 40))
    return unique or ["hello"]


DATA_FILE_LIMIT = 256 * 1024
NOT_DATA = ("/doc/", "/man/", "/locale/", "/info/")


def _package_data_paths(task_dir: TaskDir) -> list[str]:
    """Files the reference's package installs under a share/ dir that are data, not documentation."""
    return [
        name
        for name in task_dir.task.reference.hidden_paths
        if "/share/" in name and not any(part in name for part in NOT_DATA)
    ]


def _data_files(task_dir: TaskDir) -> list[tuple[str, bytes]]:
    """The package's own data files (fonts, tables, examples), readable here while generating."""
    found: list[tuple[str, bytes]] = []
    for name in _package_data_paths(task_dir):
        path = Path(name)
        try:
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= DATA_FILE_LIMIT:
                found.append((name, path.read_bytes()))
        except OSError:
            continue
    return found[:200]


def _zip_member(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 2, 3, 4, 5)), content, zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def _bucket(value: int) -> int:
    return value.bit_length()


_CHAR_CLASSES = (
    ("a", frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")),
    ("d", frozenset(b"0123456789")),
    ("s", frozenset(b" \t\r\x0b\x0c")),
    ("p", frozenset(b"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")),
    ("u", frozenset(range(128, 256))),
)


def _char_classes(data: bytes) -> str:
    present = set(data[:4096])
    return "".join(name for name, members in _CHAR_CLASSES if not present.isdisjoint(members))


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
