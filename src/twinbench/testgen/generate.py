"""Coverage-guided test generation, as stages that return values: the pipeline alone writes files.

  synthesize (seeds, then mutations)  ->  explore in the sandbox, keep what reaches new features
  ->  select (greedy set cover)  ->  clock probe  ->  record on the real reference, 3 runs each,
      dropping or normalizing what is not deterministic, hangs, or a stub would pass.
The budget is a number of runs: --runs N, or --budget-s S turned into S * 300 runs (what a small C program
gets on two cores). A seed and a run budget give one suite. --budget-s also caps the wall time, recording
included: a program too slow to spend its runs in time stops early, and testgen.json says so
(stopped_by: wall_time).
"""

from __future__ import annotations

import itertools
import math
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from twinbench.formats import HuntRound, Mutant, MutationReport, Suite, Task, TestCase, TestgenReport
from twinbench.protocols import Sandbox
from twinbench.reference.docmodel import CliModel
from twinbench.testgen.budget import WallClock
from twinbench.testgen.classify import Behavior, CaseClass, classify
from twinbench.testgen.clock import with_clock_if_read
from twinbench.testgen.constants import near
from twinbench.testgen.explore import Candidate, CoverageGuide, Explorer, FeaturesOf, open_explorer
from twinbench.testgen.inputs import detect_kinds
from twinbench.testgen.listings import with_listed_choices
from twinbench.testgen.mutants import (
    Function,
    FunctionMap,
    MutantBuilder,
    MutationTarget,
    Site,
    choose_sites,
    fingerprints,
    first_failures,
    function_of,
    functions_run,
    marked_equivalent,
    may_reach,
    mutation_score,
    passing_ids,
    prove_equivalent,
    with_mutants,
)
from twinbench.testgen.probe import ReferenceProbes, probe_reference
from twinbench.testgen.products import make_products, suffix_of, writer_examples
from twinbench.testgen.record import RECORD_REPEATS, CaseSpec, RecordReport, drop_kinds, record_reference
from twinbench.testgen.samples import formats_in_docs
from twinbench.testgen.seeds import doc_script_specs, origin_kind, seed_sources
from twinbench.testgen.select import group_of, select_balanced, select_cover
from twinbench.testgen.synthesize import Synthesizer
from twinbench.testgen.validity import gate_report, imitation_passes, settle_constant, trim_to_gate

RUNS_PER_BUDGET_SECOND = 300
BATCH = 64
SEED_SHARE = 0.4
MAX_GATE_ROUNDS = 4
MAX_RESUMES = 8
SUITE_FLOOR = 300  # a suite smaller than this gets the core cases the set cover did not need
RESUME_HEADROOM = 1.25
SCREEN_CHUNK = 128  # explored inputs run per survivor and round, beside the unmutated rebuild
EXPLORED_ROUNDS = 3  # rounds of explored inputs screened against survivors, before any variation
DIRECTED_ROUNDS = 4  # rounds of variations of inputs that run a survivor's code, without a time cap
MAX_DIRECTED_ROUNDS = 64  # with one: rounds while it lasts
DIRECTED_BATCH = 256  # variations made per round (screened against the survivors whose code they run)
SUSPECTS_PER_MUTANT = 3  # inputs a survivor behaved differently on, recorded per round to confirm the kill
# what proving a survivor equivalent costs (two optimized builds; figlet: 2.3-3.7 s on a cold cache, 1.7 s
# on average for 37 survivors) until a proof on the program itself was timed (timed_proofs): the hunt leaves
# that much per survivor still alive for the proofs after it
PROOF_SECONDS = 2.0
TIMED_PROOFS = 2  # survivors proven before the hunt, to time a proof on this program
GATE_ROUND_SHARE = 0.15  # of the run budget, per extra round of core cases after a failed gate
# of a --budget-s cap, kept for grading mutants and killing survivors (--mutants): exploring figlet for 567 s
# instead of 285 s added 0.2 points of coverage, while 120 mutants took 156 s to grade and left none for the hunt
MUTANT_TIME_SHARE = 0.45
COVERAGE_RUNS_PER_CASE = 1.1  # the coverage replay after generation, with a margin
# what a recorded case costs after recording, in recording time: the gate's imitations and the constant's
# settling (0.8 on figlet: 2.4 s after 3.0 s of recording; 0.5-0.8 with a coverage build)
GATE_COST_PER_RECORDED_CASE = 0.8
# the coverage replay of a kept case, in exploration runs (one unsandboxed run each, in turn: 6.3 ms a case
# against 4.5 ms an exploration run on figlet)
COVERAGE_REPLAY_RUNS_PER_CASE = 1.5
RECORD_CHUNKS = 4  # recording is cut in this many chunks, so its own pace decides how many cases fit
RECORD_CHUNK_PER_WORKER = 8  # but a chunk keeps every worker busy for a while
ACCEPTED_PARENTS = 0.5  # share of mutations whose parent the reference accepted (exit 0)

Progress = Callable[[str, int, int], None]


class TestgenOptions(BaseModel):
    """Knobs of one generation run."""

    __test__ = False
    budget_s: float = Field(default=60.0, gt=0)
    runs: int | None = Field(default=None, gt=0, description="exact run budget, with no time cap")
    seed: int = 0
    max_tests: int = Field(default=1000, gt=0)
    workers: int = 2
    upstream_tests: bool = Field(default=True, description="seed from the Debian source package's own tests")
    mutants: int = Field(default=0, ge=0, description="mutants of the reference whose survivors new cases should kill")
    base_args: list[str] = Field(
        default_factory=list,
        description="arguments every invocation starts with, probes included: a mode flag such as fzf's --filter",
    )
    base_files: dict[str, bytes] = Field(
        default_factory=dict, description="input files every invocation has, probes included: a key, a directory tree"
    )

    def execution_budget(self) -> int:
        """Candidate runs allowed."""
        return self.runs or max(50, int(self.budget_s * RUNS_PER_BUDGET_SECOND))


class GenerationInputs(BaseModel):
    """Everything generation reads, gathered by the pipeline: the task, its doc model and its data."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    task: Task
    model: CliModel
    docs_text: str = ""
    vocabulary: list[str] = Field(default_factory=lambda: ["hello"])
    data_files: list[tuple[str, bytes]] = Field(default_factory=list)
    samples: list[tuple[str, bytes]] = Field(
        default_factory=list, description="input files of the formats the docs name (testgen/samples.py)"
    )
    upstream: list[CaseSpec] = Field(default_factory=list, description="invocations from the package's own tests")
    upstream_note: str = Field(default="", description="the source package the upstream seeds came from, or why none")
    source_numbers: list[int] = Field(
        default_factory=list, description="numbers the program's source compares with (testgen/constants.py)"
    )


class Exploration(BaseModel):
    """What the exploration stage found."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    corpus: list[Candidate]
    features: int
    executions: int
    stopped_by: str
    seconds_per_run: float


class GeneratedSuite(BaseModel):
    """The result of generation: the recorded suite, the task (maybe with a frozen clock) and the report."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    suite: Suite
    task: Task
    report: TestgenReport


def generate_suite(
    inputs: GenerationInputs,
    sandbox: Sandbox,
    options: TestgenOptions,
    coverage: CoverageGuide | None = None,
    features_of: FeaturesOf | None = None,
    on_progress: Progress | None = None,
    clock: WallClock | None = None,
    mutation_target: MutationTarget | None = None,
) -> GeneratedSuite:
    """Explore, select, record and gate a suite; returns it with its report and writes nothing."""
    clock = clock or WallClock(None if options.runs else options.budget_s)
    if options.mutants and mutation_target is not None and clock.cap_s is not None:
        clock.reserved_s = MUTANT_TIME_SHARE * clock.cap_s
    cpu_start = _cpu_seconds()
    phases = PhaseTimer(clock)
    progress = on_progress or (lambda phase, done, total: None)
    rng = random.Random(options.seed)
    language = [*inputs.upstream, *doc_script_specs(inputs.model, rng)]
    kinds = detect_kinds(inputs.docs_text)
    long_options = [flag for option in inputs.model.options for flag in option.flags if flag.startswith("--")]
    progress("probing", 0, 1)
    probes = probe_reference(inputs.task, inputs.model, sandbox, options.workers, options.base_args, options.base_files)
    phases.lap("probing")
    progress("products", 0, 1)
    # formats the docs name that no sample file was found for: the reference may write them itself
    missing = [f.suffixes[0] for f in formats_in_docs(inputs.docs_text) if f.magic]
    missing = [suffix for suffix in missing if not any(suffix_of(name) == suffix for name, _ in inputs.samples)]
    producers = [*inputs.model.examples, *writer_examples(inputs.model.subcommands, missing)]
    producers = [[*options.base_args, *producer] for producer in producers]
    products = make_products(inputs.task, producers, sandbox, options.workers)
    model = with_listed_choices(inputs.task, inputs.model, sandbox, options.workers, options.base_args)
    # listed values are documented values: a run that works with one is a behavior of its own
    vocabulary = list(dict.fromkeys([*inputs.vocabulary, *(value for o in model.options for value in o.choices)]))
    phases.lap("products")
    synth = Synthesizer(
        model,
        rng,
        kinds,
        vocabulary,
        inputs.data_files,
        language,
        docs_text=inputs.docs_text,
        samples=[*inputs.samples, *products],
        base_args=options.base_args,
        base_files=options.base_files,
        numbers=near(inputs.source_numbers),
    )
    with open_explorer(
        inputs.task, sandbox, options.workers, coverage, features_of, vocabulary, long_options
    ) as explorer:
        exploration = explore(explorer, synth, rng, options, clock, progress, probes=probes)
        limit = clock.affordable_cases(exploration.seconds_per_run, options.max_tests)
        selection = select_balanced(exploration.corpus, limit, probes, long_options, SUITE_FLOOR, explorer.reserve)
        # the time was reserved for as many cases as the corpus held; a balanced selection is often far
        # smaller, so exploring goes on while the time after it is more than the chosen cases need
        for _ in range(MAX_RESUMES):
            expected = min(options.max_tests, int(len(selection.chosen) * RESUME_HEADROOM) + BATCH)
            if exploration.stopped_by != "wall_time" or clock.exploration_over(explorer.seconds_per_run, expected):
                break
            exploration = explore(explorer, synth, rng, options, clock, progress, expected, probes)
            limit = clock.affordable_cases(exploration.seconds_per_run, options.max_tests)
            selection = select_balanced(exploration.corpus, limit, probes, long_options, SUITE_FLOOR, explorer.reserve)
        phases.lap("exploring")
        specs = _numbered(selection.chosen, 0)
        progress("clock probe", 0, 1)
        task = with_clock_if_read(inputs.task, specs, sandbox, options.workers)
        if task.clock != inputs.task.clock:
            # `suite check` probes the saved task, frozen clock included: so must the gate's imitation here
            probes = probe_reference(task, inputs.model, sandbox, options.workers)
        phases.lap("clock probe")
        replay_s = explorer.seconds_per_run * COVERAGE_REPLAY_RUNS_PER_CASE if coverage is not None else 0.0
        suite, record = record_specs(task, specs, sandbox, options.workers, progress, inputs.docs_text, clock, replay_s)
        phases.lap("recording")
        passing = imitation_passes(task, suite, probes, sandbox, options.workers, progress)
        suite = trim_to_gate(suite, passing, selection.note == "")
        validity = gate_report(suite, passing)
        phases.lap("validity gate")
        rounds = 1
        while not validity.passed and rounds < MAX_GATE_ROUNDS and len(suite) < options.max_tests:
            more = _more_core(explorer, synth, rng, probes, options, clock, selection.chosen, progress)
            if not more:
                break
            rounds += 1
            selection.chosen.extend(more)
            extra_specs = _numbered(more, len(specs))
            specs.extend(extra_specs)
            extra_suite, extra_record = record_specs(
                task, extra_specs, sandbox, options.workers, progress, inputs.docs_text
            )
            record = _merge_records(record, extra_record)
            extra_passing = imitation_passes(task, extra_suite, probes, sandbox, options.workers, progress)
            passing = {name: ids | extra_passing.get(name, set()) for name, ids in passing.items()}
            suite = trim_to_gate(Suite(cases=[*suite.cases, *extra_suite.cases]), passing, selection.note == "")
            validity = gate_report(suite, passing, rounds)
            phases.lap("more core cases")
        mutation = before = None
        if options.mutants and mutation_target is not None:
            # the reserve too: runs that reached no new edge but printed a new output, the inputs a fault in
            # what the program computes shows in (set cover drops them, having no new line to offer)
            chosen_ids = {id(c) for c in selection.chosen}
            unused = [c for c in [*explorer.corpus, *explorer.reserve] if id(c) not in chosen_ids]
            clock.reserved_s = 0.0
            seconds_per_run = explorer.seconds_per_run

            def time_left() -> float:
                return clock.left_for_phase(seconds_per_run * len(suite) * COVERAGE_RUNS_PER_CASE)

            # what each case's exploration run executed: a mutant is graded only on cases that run its code
            runs = {spec.id: functions_run(c.features) for spec, c in zip(specs, selection.chosen, strict=True)}

            def variations(starts: list[Candidate], count: int) -> list[Candidate]:
                donors = explorer.corpus_specs()
                made = [synth.mutate(rng.choice(starts), donors) for _ in range(count - count // 2)]
                pairs = [(rng.choice(starts).spec, rng.choice(starts).spec) for _ in range(count // 2)]
                made += [crossed(first, second, rng.random() < 0.5) for first, second in pairs]
                return explorer.trace(made)

            before, mutation, killers = kill_survivors(
                task, suite, unused, mutation_target, options, sandbox, len(specs), probes, progress, time_left, runs,
                variations, selection.chosen, explorer.archive,
            )  # fmt: skip
            if killers.cases:
                record = _merge_records(record, RecordReport(kept=len(killers)))
                extra_passing = imitation_passes(task, killers, probes, sandbox, options.workers, progress)
                passing = {name: ids | extra_passing.get(name, set()) for name, ids in passing.items()}
                suite = Suite(cases=[*suite.cases, *killers.cases])
                validity = gate_report(suite, passing, validity.rounds)
            phases.lap("mutants")
        # the constant imitation depends on the suite itself: graded once more on the suite as it now is
        suite, passing = settle_constant(task, suite, passing, sandbox, options.workers, selection.note == "", progress)
        validity = gate_report(suite, passing, validity.rounds)
    classes = Counter(classify(Behavior.of_case(case), probes).value for case in suite.cases)
    origins = {spec.id: spec.origin for spec in specs}
    report = TestgenReport(
        task=task.id,
        seed=options.seed,
        budget_s=options.budget_s,
        base_args=options.base_args,
        base_files=sorted(options.base_files),
        execution_budget=options.execution_budget(),
        executions=exploration.executions,
        core_round_executions=explorer.executions - exploration.executions,
        stopped_by=exploration.stopped_by,
        seconds=round(clock.elapsed(), 2),
        cpu_seconds=round(_cpu_seconds() - cpu_start, 2),
        guidance="coverage" if coverage is not None else "behavior",
        features=len(explorer.seen),
        corpus=len(explorer.corpus),
        selected=len(specs),
        kept=len(suite),
        groups=dict(sorted(Counter(case.group for case in suite.cases).items())),
        dropped=record.dropped,
        dropped_by_reason=dict(drop_kinds(record.dropped)),
        normalized=record.normalized,
        classes=dict(sorted(classes.items())),
        core_share=round(classes[CaseClass.core.value] / len(suite), 4) if len(suite) else None,
        balance_note=selection.note,
        collapsed=selection.collapsed,
        validity=validity,
        mutation=mutation,
        mutation_before=before,
        phase_seconds=phases.seconds,
        upstream=inputs.upstream_note,
        source_numbers=inputs.source_numbers,
        seed_sources=seed_sources(language),
        accepted=explorer.accepted_shares(),
        kept_by_origin=dict(Counter(origin_kind(origins.get(case.id, "")) for case in suite.cases).most_common()),
        origins={case.id: origins[case.id] for case in suite.cases if origins.get(case.id)},
    )
    return GeneratedSuite(suite=suite, task=task, report=report)


Variations = Callable[[list[Candidate], int], list[Candidate]]


def kill_survivors(
    task: Task,
    suite: Suite,
    unused: list[Candidate],
    target: MutationTarget,
    options: TestgenOptions,
    sandbox: Sandbox,
    first_id: int,
    probes: ReferenceProbes,
    progress: Progress,
    time_left: Callable[[], float] | None = None,
    runs: dict[str, frozenset[Function] | None] | None = None,
    variations: Variations | None = None,
    parents: list[Candidate] | None = None,
    seed_runs: list[Candidate] | None = None,
) -> tuple[MutationReport, MutationReport, Suite]:
    """Grade mutants with the suite, then add inputs that kill the survivors: first the explored inputs the
    suite left out, then (with `variations`) new variations of the inputs that run a survivor's code.

    Returns the mutation score before, the score after, and the recorded cases that were added. With
    `time_left`, both stop when it reaches zero: what was not graded is reported as not_run. With `runs`
    (case id -> functions its exploration run executed), each mutant is graded only on the cases, and then
    the other inputs, that run its mutated line's function: no other run can notice it. `parents` are the
    suite's own explored inputs, which variations start from too. `seed_runs` are seed inputs exploration
    kept although they reached nothing new (see Explorer.archive), screened after the explored ones."""
    builder = MutantBuilder(target)
    left = time_left or (lambda: math.inf)
    before = mutation_score(
        task, suite, target, options.mutants, sandbox, options.workers, options.seed, builder, progress, time_left,
        runs=runs, prove_survivors=False,
    )  # fmt: skip
    sites = {f"m{number:03d}": site for number, site in enumerate(choose_sites(target, options.mutants, options.seed))}
    survivors = [m for m in before.mutants if m.status == "survived"]

    def proven(mutants: list[Mutant]) -> set[str]:
        return prove_equivalent(mutants, sites, builder, left)

    baseline = builder.baseline(survivors[0].file) if survivors and left() > 0 else None
    if baseline is None:
        settled = with_mutants(before, marked_equivalent(before.mutants, proven(before.mutants)))
        return settled, settled, Suite(cases=[])
    proof_seconds = PROOF_SECONDS
    functions = FunctionMap(target)
    hunt = SurvivorHunt(
        task=task,
        sandbox=sandbox,
        workers=options.workers,
        builder=builder,
        sites=sites,
        needed={m.id: functions.functions_at(sites[m.id]) for m in survivors},
        baseline=baseline,
        progress=progress,
        left=lambda: left() - proof_seconds * len(hunt.alive()),
        next_id=first_id,
        mutants=list(before.mutants),
    )
    # what a proof costs for this program (lz4's link-time-optimized builds take longer than figlet's), timed
    # on the survivors the hunt is least likely to kill (a proven one needs no hunt): on lines the suite runs,
    # reached by the most inputs, none of which showed the fault so far
    pool = [*unused, *(seed_runs or []), *(parents or [])]

    def unlikely_killed(mutant: Mutant) -> tuple[bool, int]:
        return mutant.reached is not True, -sum(may_reach(hunt.ran(c), hunt.needed[mutant.id]) for c in pool)

    early, proof_seconds = timed_proofs(sorted(survivors, key=unlikely_killed)[:TIMED_PROOFS], sites, builder, left)
    hunt.mutants = marked_equivalent(hunt.mutants, early)
    # core inputs first: a fault in what the program is for shows in its output
    useful = sorted(hunt.reaching(unused), key=lambda c: classify(Behavior.of_candidate(c), probes) != CaseClass.core)
    for _ in range(EXPLORED_ROUNDS):
        hunt.hunt(useful, "explored", SCREEN_CHUNK)
    # then the systematic inputs coverage saw nothing new in: a mutant on a range check's end (a lead byte of
    # C0 taken for invalid) shows only in the one sweep that crosses it
    systematic = hunt.reaching(seed_runs or [])
    for _ in range(EXPLORED_ROUNDS):
        hunt.hunt(systematic, "seeds", SCREEN_CHUNK)
    # with a cap, variations go on while it lasts (the fixed rounds before them end early on a fast program:
    # figlet's 900 s run left 140 s unused); without one, DIRECTED_ROUNDS
    rounds = DIRECTED_ROUNDS if math.isinf(left()) else MAX_DIRECTED_ROUNDS
    for number in range(rounds if variations is not None else 0):
        # a survivor's code runs, yet no input shows the fault: variations of those inputs (other values,
        # data-file copies, stdin) are where an input that does show it is likeliest
        starts = hunt.reaching([*(parents or []), *unused, *hunt.screened])
        if variations is None or not starts or not hunt.alive() or hunt.left() <= 0:
            break
        made = hunt.reaching(variations(starts, DIRECTED_BATCH))
        hunt.hunt(made, "variations", len(made))
        if number >= DIRECTED_ROUNDS:
            # past the fixed rounds, more of the systematic inputs too, until every one was screened
            hunt.hunt(systematic, "seeds", SCREEN_CHUNK)
    # the proofs come last, for the survivors no input killed: each costs two optimized builds
    equivalent = early | proven(hunt.mutants)
    after = with_mutants(before, marked_equivalent(hunt.mutants, equivalent)).model_copy(update={"hunt": hunt.rounds})
    before = with_mutants(before, marked_equivalent(before.mutants, equivalent))
    return before, after, Suite(cases=hunt.killers)


def timed_proofs(
    mutants: list[Mutant], sites: dict[str, Site], builder: MutantBuilder, left: Callable[[], float]
) -> tuple[set[str], float]:
    """The mutants the compiler proves equivalent, tried one at a time, and what a proof costs: what the last
    one took (the first also builds the optimized trees, so the last is the cost of each later one), never
    less than PROOF_SECONDS: a proof an earlier run cached takes no time, the survivors' next ones do."""
    proven: set[str] = set()
    seconds = PROOF_SECONDS
    for mutant in mutants:
        if left() <= 0:
            break
        started = time.monotonic()
        proven |= prove_equivalent([mutant], sites, builder, left)
        seconds = max(PROOF_SECONDS, time.monotonic() - started)
    return proven, seconds


@dataclass
class SurvivorHunt:
    """Surviving mutants, and the inputs tried against them. Each survivor's binary is run beside the unmutated
    rebuild on inputs that reach its code (one run each); only the inputs on which the two differ are recorded
    on the reference, kept where the rebuild passes them, and graded against every survivor they reach."""

    task: Task
    sandbox: Sandbox
    workers: int
    builder: MutantBuilder
    sites: dict[str, Site]
    needed: dict[str, frozenset[Function] | None]
    baseline: Path
    progress: Progress
    left: Callable[[], float]
    next_id: int
    mutants: list[Mutant]
    killers: list[TestCase] = field(default_factory=list)
    screened: list[Candidate] = field(default_factory=list)
    rounds: list[HuntRound] = field(default_factory=list)
    # what each candidate's run executed, by id(): read once from its features, not per survivor and round
    # (the candidate is kept with it, so that its id cannot be reused by another while the hunt lasts)
    _functions: dict[int, tuple[Candidate, frozenset[Function] | None]] = field(default_factory=dict)
    _rebuild_digests: dict[int, bytes | None] = field(default_factory=dict)
    _screened_by: dict[str, set[int]] = field(default_factory=dict)

    def alive(self) -> list[Mutant]:
        """Survivors not killed yet."""
        return [m for m in self.mutants if m.status == "survived"]

    def ran(self, candidate: Candidate) -> frozenset[Function] | None:
        """The functions the candidate's run executed (see functions_run)."""
        if id(candidate) not in self._functions:
            self._functions[id(candidate)] = (candidate, functions_run(candidate.features))
        return self._functions[id(candidate)][1]

    def reaching(self, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates whose run executed the function of a mutant still alive."""
        needed = [self.needed[m.id] for m in self.alive()]
        return [c for c in candidates if any(may_reach(self.ran(c), n) for n in needed)]

    def queue(self, mutant: Mutant, candidates: list[Candidate]) -> list[Candidate]:
        """The candidates that run the mutant's function, best first: those that took the rarest paths through
        it (a mutant on a line most runs of a common function skip, like a decoder's 5-byte branch, shows
        only in the few that take it), and among equals one per distinct set of input files before the next:
        otherwise a survivor whose code every run executes would get the first few hundred inputs, all with
        the same data file, and the file that shows its fault (the one control file mapping a character set)
        would come last."""
        needed = self.needed[mutant.id]
        reaching = [c for c in candidates if may_reach(self.ran(c), needed)]
        inside = [[f for f in c.features if needed is not None and function_of(f) in needed] for c in reaching]
        paths = Counter(feature for features in inside for feature in features)
        seen: Counter[str] = Counter()
        ranked: list[tuple[int, int, int, Candidate]] = []
        for candidate, features in zip(reaching, inside, strict=True):
            rarest = min((paths[f] for f in features), default=len(reaching))
            key = "|".join(sorted(f"{n}:{hash(v)}" for n, v in candidate.spec.files.items()))
            ranked.append((rarest, seen[key], len(ranked), candidate))
            seen[key] += 1
        return [c for *_, c in sorted(ranked, key=lambda item: item[:3])]

    def hunt(self, candidates: list[Candidate], source: str, per_mutant: int) -> None:
        """Screen up to `per_mutant` new candidates per survivor, then record and grade those it flagged."""
        if not candidates or not self.alive() or self.left() <= 0:
            return
        alive_before = len(self.alive())
        suspects, screened = self.screen(candidates, per_mutant, f"screening survivors: {source}")
        if not screened:
            return  # every candidate was screened against every survivor it reaches already
        if suspects and self.left() > 0:
            self._try(suspects, f"killing survivors: {source}")
        alive = len(self.alive())
        self.rounds.append(
            HuntRound(source=source, screened=screened, tried=len(suspects), killed=alive_before - alive, alive=alive)
        )

    def screen(self, candidates: list[Candidate], per_mutant: int, phase: str) -> tuple[list[Candidate], int]:
        """Run each survivor's binary on the next `per_mutant` candidates of its queue it has not run yet,
        beside the unmutated rebuild; return the inputs on which some survivor behaved differently (at most
        SUSPECTS_PER_MUTANT each) and how many candidates were taken from the queues. Recording an expectation
        takes several runs of the reference and a check on the rebuild; a screen takes one run, so far more
        inputs are tried in the same time."""
        suspects: dict[int, Candidate] = {}
        taken = 0
        for number, mutant in enumerate(self.mutants):
            self.progress(phase, number, len(self.mutants))
            if mutant.status != "survived" or self.left() <= 0:
                continue
            done = self._screened_by.setdefault(mutant.id, set())
            batch = [c for c in self.queue(mutant, candidates) if id(c) not in done][:per_mutant]
            done.update(id(c) for c in batch)
            taken += len(batch)
            self._run_rebuild(batch)
            usable = [c for c in batch if self._rebuild_digests[id(c)] is not None]
            binary = self.builder.build(self.sites[mutant.id]) if usable and self.left() > 0 else None
            if binary is None:
                continue
            digests = fingerprints(self.task, [c.spec for c in usable], binary, self.sandbox, self.workers)
            differing = [
                c for c, digest in zip(usable, digests, strict=True)
                if digest is not None and digest != self._rebuild_digests[id(c)]
            ]  # fmt: skip
            for candidate in differing[:SUSPECTS_PER_MUTANT]:
                suspects.setdefault(id(candidate), candidate)
        self.progress(phase, len(self.mutants), len(self.mutants))
        return list(suspects.values()), taken

    def _run_rebuild(self, batch: list[Candidate]) -> None:
        """Give each candidate of `batch` the unmutated rebuild's digest (run once for every survivor; None where
        two runs differ)."""
        fresh = [c for c in batch if id(c) not in self._rebuild_digests]
        specs = [c.spec for c in fresh]
        # run twice: an input the program answers differently each time (a font whose broken data makes it
        # read memory it never wrote) shows every mutant as different, and recording would drop it as flaky
        first, second = (fingerprints(self.task, specs, self.baseline, self.sandbox, self.workers) for _ in range(2))
        for candidate, digest, again in zip(fresh, first, second, strict=True):
            self._rebuild_digests[id(candidate)] = digest if digest == again else None
            self.ran(candidate)  # keeps the candidate, so that its id stays its own
            self.screened.append(candidate)

    def _try(self, candidates: list[Candidate], phase: str) -> None:
        """Record `candidates`, grade the survivors with them, keep the first killer of each."""
        specs = _numbered(candidates, self.next_id)
        self.next_id += len(specs)
        ran = {spec.id: self.ran(c) for spec, c in zip(specs, candidates, strict=True)}
        pool, _ = record_specs(self.task, specs, self.sandbox, self.workers, self.progress)
        usable = passing_ids(self.task, pool, self.baseline, self.sandbox, self.workers)
        added = {case.id for case in self.killers}
        for number, mutant in enumerate(self.mutants):
            self.progress(phase, number, len(self.mutants))
            if mutant.status != "survived" or self.left() <= 0:
                continue
            reaching = {i for i in usable if may_reach(ran.get(i), self.needed[mutant.id])}
            binary = self.builder.build(self.sites[mutant.id]) if reaching else None
            if binary is None:
                continue
            # an input already added is tried first, so that one input can serve several mutants
            killers: list[str] = []
            for among in (reaching & added, reaching - added):
                if among and not killers:
                    killers = first_failures(self.task, pool, binary, among, self.sandbox, self.workers, enough=1)
            if killers:
                self.mutants[number] = mutant.model_copy(update={"status": "killed", "killed_by": killers})
                fresh = [case for case in pool.cases if case.id in killers and case.id not in added]
                self.killers.extend(fresh)
                added.update(case.id for case in fresh)


def _more_core(
    explorer: Explorer,
    synth: Synthesizer,
    rng: random.Random,
    probes: ReferenceProbes,
    options: TestgenOptions,
    clock: WallClock,
    chosen: list[Candidate],
    progress: Progress,
) -> list[Candidate]:
    """Mutate core cases until new core candidates appear (or the round's budget ends); cover them."""
    is_core: dict[int, bool] = {}

    def core(candidate: Candidate) -> bool:
        if id(candidate) not in is_core:
            is_core[id(candidate)] = classify(Behavior.of_candidate(candidate), probes) == CaseClass.core
        return is_core[id(candidate)]

    round_budget = max(BATCH, int(options.execution_budget() * GATE_ROUND_SHARE))
    spent = 0
    fresh: list[Candidate] = []
    room = clock.affordable_cases(explorer.seconds_per_run, options.max_tests - len(chosen))
    while spent < round_budget and len(fresh) < room:
        if clock.exploration_over(explorer.seconds_per_run, len(fresh) + 1):
            break
        batch = [synth.mutate(explorer.pick(rng, among=core), explorer.corpus_specs()) for _ in range(BATCH)]
        spent += len(batch)
        fresh.extend(candidate for candidate in explorer.run(batch) if core(candidate))
        progress("more core cases", spent, round_budget)
    return select_cover(fresh, room, chosen_first=chosen)


def crossed(command: CaseSpec, data: CaseSpec, join_arguments: bool) -> CaseSpec:
    """`command`'s command line with `data`'s standard input, and the input files of both (`command`'s own
    where a name is in both, since its arguments name them); with `join_arguments`, `data`'s arguments follow
    `command`'s. A fault that shows only when an option, a data file and a text meet (a right-to-left font
    with -L, a control file's register with text that shifts into it) needs what two runs each hold half of."""
    argv = [*command.argv, *data.argv] if join_arguments else command.argv
    return command.model_copy(
        update={
            "argv": argv,
            "stdin": data.stdin or command.stdin,
            "files": {**data.files, **command.files},
            "origin": "mutation",
        }
    )


def _numbered(candidates: list[Candidate], first: int) -> list[CaseSpec]:
    return [
        candidate.spec.model_copy(update={"id": f"t{number:04d}", "group": group_of(candidate)})
        for number, candidate in enumerate(candidates, start=first)
    ]


def _merge_records(first: RecordReport, second: RecordReport) -> RecordReport:
    return RecordReport(
        kept=first.kept + second.kept,
        dropped={**first.dropped, **second.dropped},
        normalized={**first.normalized, **second.normalized},
    )


class PhaseTimer:
    """Wall seconds spent per phase, for testgen.json."""

    def __init__(self, clock: WallClock) -> None:
        self.clock = clock
        self.mark = clock.elapsed()
        self.seconds: dict[str, float] = {}

    def lap(self, phase: str) -> None:
        """Charge the time since the last lap to `phase`."""
        now = self.clock.elapsed()
        self.seconds[phase] = round(self.seconds.get(phase, 0.0) + now - self.mark, 2)
        self.mark = now


def explore(
    explorer: Explorer,
    synth: Synthesizer,
    rng: random.Random,
    options: TestgenOptions,
    clock: WallClock,
    progress: Progress,
    expected_cases: int | None = None,
    probes: ReferenceProbes | None = None,
) -> Exploration:
    """Run the seeds, then mutations of the corpus, until the run budget or the time for exploring is spent.

    With `expected_cases` (how many cases the last selection chose, give or take) the seeds are not run
    again: exploration resumes where it stopped, with the time reserved for that many cases."""
    budget = options.execution_budget()
    seeds = [] if expected_cases else list(itertools.islice(synth.seeds(), int(budget * SEED_SHARE)))
    stopped_by = "budget"
    accepted = _accepted_parent(probes)

    def out_of_time() -> bool:
        cases = expected_cases or min(options.max_tests, len(explorer.corpus))
        return clock.exploration_over(explorer.seconds_per_run, cases)

    for start in range(0, len(seeds), BATCH * 4):
        if out_of_time():
            stopped_by = "wall_time"
            break
        explorer.run(seeds[start : start + BATCH * 4])
        progress("exploring", explorer.executions, budget)
    while stopped_by == "budget" and explorer.executions < budget and explorer.corpus:
        if out_of_time():
            stopped_by = "wall_time"
            break
        size = min(BATCH, budget - explorer.executions)
        # half of the parents are inputs the reference accepted: mutants of a valid program are what reach the
        # program's core; mutants of a rejected one mostly stay in its parser
        parents = [explorer.pick(rng, among=accepted if rng.random() < ACCEPTED_PARENTS else None) for _ in range(size)]
        explorer.run([synth.mutate(parent, explorer.corpus_specs()) for parent in parents])
        progress("exploring", explorer.executions, budget)
    return Exploration(
        corpus=explorer.corpus,
        features=len(explorer.seen),
        executions=explorer.executions,
        stopped_by=stopped_by,
        seconds_per_run=explorer.seconds_per_run,
    )


def _accepted_parent(probes: ReferenceProbes | None) -> Callable[[Candidate], bool]:
    """Parents the reference accepted, but not those that only print its help or version text: `--version`
    with anything after it is accepted too, and its mutants stayed the same answer (ninja: 25 of 121 kept
    inputs printed "1.11.1", while mutants of its build files were few)."""
    is_info: dict[int, bool] = {}

    def accepted(candidate: Candidate) -> bool:
        if candidate.status != 0:
            return False
        if probes is None:
            return True
        if id(candidate) not in is_info:
            is_info[id(candidate)] = classify(Behavior.of_candidate(candidate), probes) == CaseClass.info
        return not is_info[id(candidate)]

    return accepted


def record_specs(
    task: Task,
    specs: list[CaseSpec],
    sandbox: Sandbox,
    workers: int,
    progress: Progress,
    docs_text: str = "",
    clock: WallClock | None = None,
    later_per_case_s: float = 0.0,
) -> tuple[Suite, RecordReport]:
    """Record the chosen cases on the reference, reporting every run to the progress bar; crashes the docs do
    not describe and cases that follow the machine's identity files are dropped (see record_reference).

    With a capped `clock`, cases are recorded in chunks and each chunk's measured pace decides how many more
    fit before the cap, the gate's imitations included: exploration's pace, which chose how many cases to
    keep, can be far faster than recording's when the machine's load rises (a 20 s run took 21.3 s under
    a full test suite). `later_per_case_s` is what each kept case costs after the gate (the coverage replay).
    Cases left out are reported as dropped with reason `time_cap`."""
    total = len(specs) * RECORD_REPEATS
    done = 0

    def advanced() -> None:
        nonlocal done
        done += 1
        if done % 16 == 0 or done == total:
            progress("recording", done, total)

    progress("recording", 0, total)
    if clock is None or clock.cap_s is None:
        return record_reference(
            task, specs, sandbox, workers=workers, on_progress=advanced, docs_text=docs_text, host_probe=True
        )
    chunk = max(workers * RECORD_CHUNK_PER_WORKER, -(-len(specs) // RECORD_CHUNKS))
    started = clock.elapsed()
    suite, report = Suite(cases=[]), RecordReport()
    position = 0
    while position < len(specs):
        wanted = chunk
        if position:
            per_case = (clock.elapsed() - started) / position
            # what is recorded must still be gated; each further case costs its recording and its gating
            after_each = per_case * GATE_COST_PER_RECORDED_CASE + later_per_case_s
            spare = clock.left_at_the_end(after_each * position)
            wanted = min(chunk, int(spare / (per_case + after_each)))
            if wanted <= 0:
                break
        part, part_report = record_reference(
            task,
            specs[position : position + wanted],
            sandbox,
            workers=workers,
            on_progress=advanced,
            docs_text=docs_text,
            host_probe=True,
        )
        suite = Suite(cases=[*suite.cases, *part.cases])
        report = _merge_records(report, part_report)
        position += len(specs[position : position + wanted])
    left_out = {spec.id: "time_cap: the cap left no time to record and gate it" for spec in specs[position:]}
    if left_out:
        progress("recording", total, total)
    return suite, report.model_copy(update={"dropped": {**report.dropped, **left_out}})


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
