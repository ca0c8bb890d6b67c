"""Exploration stage: run candidates in the sandbox and keep the ones that reach something new.

Features are gcov edges of a coverage build (when there is one) plus coarse behavioral features of each run.
The stage returns a corpus of candidates with what each one did; it writes no files.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, Field

from twinbench.formats import AcceptedShare, Task
from twinbench.protocols import Sandbox
from twinbench.reference import resolve_binary, stage_reference
from twinbench.sandbox import WORK_DIR, ExecRequest, ExecResult, SessionConfig
from twinbench.sandbox.pool import SessionPool
from twinbench.sandbox.testrun import request_for
from twinbench.testgen.record import CaseSpec, case_for_spec
from twinbench.testgen.seeds import (
    DATA_FILES,
    SMALL_EDGE_VALUES,
    input_form,
    origin_kind,
    switch_of,
    threshold_of,
)

GCOV_DIR = ".twinbench-gcov"
LIBRARY_DIR = ".twinbench-lib"  # the coverage build's own shared libraries, beside ./executable in every work dir
OUTPUT_HEAD = 512
MAX_RESERVE = 3000  # accepted runs kept for their output alone, to fill a suite with core cases
MAX_ARCHIVE = 4000  # seed runs kept although they reached nothing new, for testgen --mutants to screen
EXPLORE_TIMEOUT_S = 2.0

Feature = tuple[object, ...]
FeaturesOf = Callable[[dict[str, bytes | None]], frozenset[Feature]]


class CoverageGuide(BaseModel):
    """What testgen needs from a coverage build (see twinbench.reference.coverage)."""

    binary: Path
    strip_components: int
    gcda_files: list[str]
    # how a run writes its counters (twinbench.reference.coverage.guidance_settings); empty means gcc's .gcda
    env: dict[str, str] = Field(default_factory=dict)
    collect: list[str] = Field(default_factory=list)
    files: dict[str, bytes] = Field(default_factory=dict)
    # shared libraries of the build the binary loads, staged under LIBRARY_DIR (env's LD_LIBRARY_PATH names it)
    libraries: list[Path] = Field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What one exploration run did, in brief: enough to classify it before it is recorded."""

    status: int | None
    stdout_head: bytes = b""
    stdout_size: int = 0
    stderr_head: bytes = b""
    stderr_size: int = 0
    wrote_files: bool = False


@dataclass(frozen=True)
class Candidate:
    """A generated invocation and, once run, the features it reached (a dataclass: thousands are made)."""

    spec: CaseSpec
    features: frozenset[Feature] = frozenset()
    status: int | None = None
    outcome: Outcome | None = None


@dataclass
class Explorer:
    """Runs candidates in an open session pool and keeps the novel ones; `corpus` grows across calls."""

    task: Task
    pool: SessionPool
    coverage: CoverageGuide | None
    features_of: FeaturesOf | None
    vocabulary: frozenset[str]
    long_options: tuple[str, ...] = ()
    seen: set[Feature] = field(default_factory=set)
    corpus: list[Candidate] = field(default_factory=list)
    executions: int = 0
    run_seconds: float = 0.0
    # runs that reached nothing new but succeeded with an output no kept run printed: more core cases for a
    # suite the set cover leaves small (never mutated further, unlike the corpus)
    reserve: list[Candidate] = field(default_factory=list)
    # seed runs (not mutations) that reached nothing new and printed nothing new: the systematic inputs (every
    # lead byte, every integer limit) a mutant on a boundary shows in, while coverage saw nothing new in them.
    # Kept with the functions they ran only, not their edges, for the survivor hunt to screen.
    archive: list[Candidate] = field(default_factory=list)
    _functions: dict[Feature, Feature] = field(default_factory=dict)
    _outputs: set[bytes] = field(default_factory=set)
    # what each data file run printed, by its invocation: a run with a switch added is compared with it
    _without_switch: dict[bytes, bytes] = field(default_factory=dict)
    # threshold sweeps (seeds.threshold_origin): per group, whether the reference accepted each value
    _acceptance: dict[str, dict[int, tuple[bool, bool]]] = field(default_factory=dict)
    # each threshold run as it ran: a neighbour that runs in a later batch may make it one side of a threshold
    _swept: dict[tuple[str, int], Candidate] = field(default_factory=dict)
    _picks: Counter[int] = field(default_factory=Counter)
    generated: Counter[str] = field(default_factory=Counter)  # runs by origin kind
    accepted: Counter[str] = field(default_factory=Counter)  # of those, runs the reference accepted (exit 0)

    def run(self, specs: list[CaseSpec]) -> list[Candidate]:
        """Run a batch; results are merged in batch order, so parallelism never changes the outcome.

        Returns the candidates of this batch that were new (also appended to the corpus)."""
        return [candidate for candidate, new in self._run(specs) if new]

    def trace(self, specs: list[CaseSpec]) -> list[Candidate]:
        """Run a batch like `run`, and return every candidate that ran, new or not, with what it executed."""
        return [candidate for candidate, _ in self._run(specs)]

    def _run(self, specs: list[CaseSpec]) -> list[tuple[Candidate, bool]]:
        if not specs:
            return []
        started = time.monotonic()
        results: dict[int, ExecResult] = {}
        self.pool.map([(index, self._request(spec)) for index, spec in enumerate(specs)], results.__setitem__)
        self.run_seconds += time.monotonic() - started
        self.executions += len(specs)
        ran: list[tuple[Candidate, bool]] = []
        # a threshold run is judged against its neighbours, in this batch too: they ran already
        for index, spec in enumerate(specs):
            swept = threshold_of(spec.origin)
            if swept is not None and results[index].sandbox_error is None:
                self._acceptance.setdefault(swept[0], {})[swept[1]] = _acceptance(results[index])
        for index, spec in enumerate(specs):
            result = results[index]
            if result.sandbox_error is not None:
                continue
            kind = origin_kind(spec.origin)
            self.generated[kind] += 1
            self.accepted[kind] += result.exit_code == 0 and not result.timed_out
            if result.timed_out:
                continue
            features = self._features(spec, result)
            output = hashlib.sha256(result.stdout).digest() if result.status == 0 and result.stdout else None
            candidate = Candidate(spec=spec, features=features, status=result.status, outcome=outcome_of(result))
            new = not features <= self.seen
            if new:
                self.seen |= features
                self.corpus.append(candidate)
                if output is not None:
                    self._outputs.add(output)
            elif output is not None and output not in self._outputs and len(self.reserve) < MAX_RESERVE:
                self._outputs.add(output)
                self.reserve.append(candidate)
            elif origin_kind(spec.origin) != "mutation" and len(self.archive) < MAX_ARCHIVE:
                self.archive.append(replace(candidate, features=self._function_level(features)))
            ran.append((candidate, new))
            self._mark_earlier_side(candidate)
        return ran

    def _mark_earlier_side(self, candidate: Candidate) -> None:
        """Keep the neighbour of a threshold run when that neighbour ran in an earlier batch, before this run
        showed that the answer turns between them: it is the other side of the threshold."""
        swept = threshold_of(candidate.spec.origin)
        if swept is None:
            return
        group, value = swept
        self._swept[swept] = candidate
        accepted = self._acceptance.get(group, {})
        for other in (value - 1, value + 1):
            earlier = self._swept.get((group, other))
            feature: Feature = ("form", f"threshold {group}", other)
            if earlier is None or feature in earlier.features or accepted.get(other) == accepted.get(value):
                continue
            marked = replace(earlier, features=earlier.features | {feature})
            self._swept[(group, other)] = marked
            self.seen.add(feature)
            if any(kept is earlier for kept in self.corpus):
                self.corpus = [marked if kept is earlier else kept for kept in self.corpus]
            else:
                # one case per input: the run leaves the reserve or the archive for the corpus
                self.reserve = [kept for kept in self.reserve if kept.spec is not earlier.spec]
                self.archive = [kept for kept in self.archive if kept.spec is not earlier.spec]
                self.corpus.append(marked)

    def _function_level(self, features: frozenset[Feature]) -> frozenset[Feature]:
        """One feature per function a run's edges are in, shared between runs (thousands are kept)."""
        level = set()
        for feature in features:
            if len(feature) == 3 and is_code_feature(feature):
                key = (feature[0], feature[1], -1)
                level.add(self._functions.setdefault(key, key))
        return frozenset(level)

    def accepted_shares(self) -> dict[str, AcceptedShare]:
        """Per origin kind and in all: how many generated inputs ran, and the share the reference accepted."""
        shares = {kind: AcceptedShare.of(self.generated[kind], self.accepted[kind]) for kind in sorted(self.generated)}
        shares["all"] = AcceptedShare.of(sum(self.generated.values()), sum(self.accepted.values()))
        return shares

    @property
    def seconds_per_run(self) -> float:
        """Mean wall time of one run so far (0 before any run)."""
        return self.run_seconds / self.executions if self.executions else 0.0

    def pick(self, rng: random.Random, among: Callable[[Candidate], bool] | None = None) -> Candidate:
        """A corpus entry to mutate: rarely picked, feature-rich entries first (only those `among` accepts)."""
        indices = [i for i, c in enumerate(self.corpus) if among is None or among(c)] or list(range(len(self.corpus)))
        if not indices:
            raise RuntimeError("no corpus")
        weights = [(len(self.corpus[i].features) + 1) / (1 + self._picks[i]) for i in indices]
        index = rng.choices(indices, weights=weights)[0]
        self._picks[index] += 1
        return self.corpus[index]

    def corpus_specs(self) -> list[CaseSpec]:
        """Kept inputs, donors for splicing."""
        return [candidate.spec for candidate in self.corpus]

    def _request(self, spec: CaseSpec) -> ExecRequest:
        # a run that takes longer than this is no good test and is dropped anyway; example programs that never
        # end (bc's twins.b) and their mutants would otherwise cost the full case timeout each
        quick = spec.model_copy(update={"timeout_s": min(spec.timeout_s, EXPLORE_TIMEOUT_S)})
        request = request_for(self.task, case_for_spec(quick))
        if self.coverage is not None and self.coverage.env:
            request.env.update(self.coverage.env)
            request.collect = sorted({*request.collect, *self.coverage.collect})
            request.files = {**self.coverage.files, **request.files}
        elif self.coverage is not None:
            request.env["GCOV_PREFIX"] = f"{WORK_DIR}/{GCOV_DIR}"
            request.env["GCOV_PREFIX_STRIP"] = str(self.coverage.strip_components)
            request.collect = sorted({*request.collect, *(f"{GCOV_DIR}/{name}" for name in self.coverage.gcda_files)})
        return request

    def _switch_effect(self, spec: CaseSpec, result: ExecResult) -> set[Feature]:
        """For a data file run with a switch added (seeds.switch_form): whether the switch changed what the same
        run without it did. One run of each is kept: figlet's -L changes nothing with most fonts and reverses
        the right-to-left one, and a fault in how -L meets the font's own direction shows only with that one."""
        switch = switch_of(spec.origin)
        if switch is None:
            if origin_kind(spec.origin) == DATA_FILES:
                self._without_switch[_invocation_key(spec.argv, spec)] = _behavior_digest(result)
            return set()
        argv = list(spec.argv)
        argv.remove(switch)
        plain = self._without_switch.get(_invocation_key(argv, spec))
        if plain is None:
            return set()
        effect = "same" if plain == _behavior_digest(result) else "changed"
        return {("form", spec.origin, "effect", effect)}

    def _threshold(self, spec: CaseSpec) -> set[Feature]:
        """For a run of a threshold sweep: a feature of its own when a neighbouring value (one less or one more)
        was accepted and this one refused, or the other way round. Both sides of every such value are kept: a
        limit check written `>=` for `>` differs from the reference only there. The smallest values (-1 to 2)
        are kept whatever their neighbours did: they are edges of their own that acceptance does not show
        (figlet takes `-w 1` as "no limit" and `-w 2` as one column; a `> 0` written for `> 1` shows only at 1)."""
        swept = threshold_of(spec.origin)
        if swept is None:
            return set()
        group, value = swept
        if value in SMALL_EDGE_VALUES:
            return {("form", f"threshold {group}", value)}
        seen = self._acceptance.get(group, {})
        mine = seen.get(value)
        if mine is None or all(seen.get(other, mine) == mine for other in (value - 1, value + 1)):
            return set()
        return {("form", f"threshold {group}", value)}

    def _features(self, spec: CaseSpec, result: ExecResult) -> frozenset[Feature]:
        features = set(behavior_features(spec, result, self.vocabulary, self.long_options))
        features |= self._switch_effect(spec, result)
        features |= self._threshold(spec)
        if self.coverage is not None and self.features_of is not None:
            gcda = {name: data for name, data in result.files.items() if name.startswith(GCOV_DIR + "/")}
            features |= self.features_of(gcda)
        return frozenset(features)


@contextmanager
def open_explorer(
    task: Task,
    sandbox: Sandbox,
    workers: int,
    coverage: CoverageGuide | None,
    features_of: FeaturesOf | None,
    vocabulary: list[str],
    long_options: Iterable[str] = (),
) -> Iterator[Explorer]:
    """An Explorer over a scratch tree holding the reference (or its coverage build); closed on exit."""
    with tempfile.TemporaryDirectory(prefix="twinbench-testgen-") as scratch:
        tree = Path(scratch)
        if coverage is not None:
            stage_coverage_build(coverage, tree)
        else:
            stage_reference(resolve_binary(task.reference.binary), tree)
        config = SessionConfig(tree=tree, disk_mb=task.limits.test.disk_mb)
        pool = SessionPool(sandbox, config, workers)
        try:
            yield Explorer(task, pool, coverage, features_of, frozenset(vocabulary), tuple(long_options))
        finally:
            pool.close()


def _invocation_key(argv: list[str], spec: CaseSpec) -> bytes:
    digest = hashlib.sha256(repr((argv, sorted(spec.files.items()), spec.stdin)).encode())
    return digest.digest()


def _acceptance(result: ExecResult) -> tuple[bool, bool]:
    """Whether the program accepted an input: it exited 0, and it wrote nothing to stderr."""
    return result.status == 0, not result.stderr


def _behavior_digest(result: ExecResult) -> bytes:
    return hashlib.sha256(repr((result.status, result.stdout, result.stderr)).encode()).digest()


def stage_coverage_build(coverage: CoverageGuide, tree: Path) -> None:
    """Put the instrumented binary in a sandbox tree as ./executable, and its own shared libraries (under their
    sonames) in LIBRARY_DIR, which the guide's LD_LIBRARY_PATH names; every run's work dir gets both."""
    shutil.copy2(coverage.binary, tree / "executable")
    if coverage.libraries:
        (tree / LIBRARY_DIR).mkdir()
        for library in coverage.libraries:
            shutil.copy2(library, tree / LIBRARY_DIR / library.name)


def outcome_of(result: ExecResult) -> Outcome:
    """The brief record of a run that classification needs."""
    return Outcome(
        status=result.status,
        stdout_head=result.stdout[:OUTPUT_HEAD],
        stdout_size=len(result.stdout),
        stderr_head=result.stderr[:OUTPUT_HEAD],
        stderr_size=len(result.stderr),
        wrote_files=any(content for name, content in result.files.items() if not name.startswith(GCOV_DIR + "/")),
    )


def canonical_flag(arg: str, long_options: Iterable[str]) -> str:
    """The documented long option an abbreviation stands for (getopt_long accepts unique prefixes)."""
    name = arg.split("=")[0]
    if not name.startswith("--") or len(name) < 4:
        return name
    matches = [option for option in long_options if option.startswith(name)]
    return matches[0] if len(matches) == 1 else name


def behavior_features(
    spec: CaseSpec, result: ExecResult, vocabulary: frozenset[str], long_options: Iterable[str] = ()
) -> Iterable[Feature]:
    """What a run did, coarsely: exit status, kind of error message, shape of output, documented values that worked.

    Abbreviated long options count as the option they abbreviate, so `--inte` and `--interac` are one feature."""
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
            yield ("flag", canonical_flag(arg, long_options), result.status)
    form = input_form(spec.origin)
    if form is not None:
        # one run of each systematic form (a font with CR line ends, ISO 2022 text) per option and outcome: its
        # lines may all be run by other inputs already, yet only it shows a fault in how the form is handled
        # (figlet dropping the byte after a lone CR)
        flag = next((canonical_flag(arg, long_options) for arg in spec.argv if arg.startswith("-")), "")
        yield ("form", form, flag, result.status)
    if result.status == 0:
        # data-driven programs (fonts, formats, locales) behave differently per documented value, with the
        # same code: keep one working run per such value; mutated junk values are not features
        for flag, value in itertools.pairwise(spec.argv):
            if flag.startswith("-") and value in vocabulary:
                yield ("value", canonical_flag(flag, long_options), value)


def is_form_feature(feature: Feature) -> bool:
    """A systematic input form's feature (behavior_features): one run of each is kept before other behaviors."""
    return feature[0] == "form"


def is_code_feature(feature: Feature) -> bool:
    """Code features are keyed by their counter file (.gcda, .profraw, Go covcounters); behavioral ones by a tag."""
    return isinstance(feature[0], str) and (feature[0].endswith(".gcda") or feature[0].startswith(GCOV_DIR + "/"))


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
