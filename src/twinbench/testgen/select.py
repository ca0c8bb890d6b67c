"""Selection stage: the fewest candidates that keep every feature, and the group each case is filed under."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from twinbench.testgen.classify import SHALLOW, Behavior, CaseClass, classify, errors_only_passes
from twinbench.testgen.explore import Candidate, Feature, canonical_flag, is_code_feature, is_form_feature
from twinbench.testgen.probe import ReferenceProbes
from twinbench.testgen.validity import IMITATION_SHARE


def select_cover(corpus: list[Candidate], limit: int, chosen_first: list[Candidate] | None = None) -> list[Candidate]:
    """Greedy set cover: the fewest candidates that keep every feature, most valuable first.

    Code coverage comes first, then one run of each systematic input form (explore.behavior_features): when
    the limit bites, the other behavioral features give way before those do. Features of `chosen_first`
    (already kept) count as covered; they are not part of the answer.
    """
    already: set[Feature] = set()
    for candidate in chosen_first or []:
        already |= candidate.features
    chosen: list[int] = []
    wanted_passes: tuple[Callable[[Feature], bool], ...] = (is_code_feature, is_form_feature, lambda feature: True)
    for wanted in wanted_passes:
        uncovered = {f for c in corpus for f in c.features if wanted(f)} - already
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


def group_of(candidate: Candidate) -> str:
    """The suite group of a case: errors, the first option it uses, or how it gets its input."""
    if candidate.status not in (0, None):
        return "errors"
    flags = [arg.split("=")[0] for arg in candidate.spec.argv if arg.startswith("-") and arg != "-"]
    if flags:
        return "option" + flags[0] if flags[0].startswith("--") else "option" + flags[0][:2]
    return "stdin" if candidate.spec.stdin else "args"


SHALLOW_SHARE = 0.15
CORE_FIRST_SHARE = 0.75
INPUT_ERROR_SHARE = 0.15
INPUT_ERRORS_PER_CORE = 0.5  # core cases are at least two thirds of core and input errors together
SAME_ANSWER_SHARE = 0.05
MIN_CORE = 10


@dataclass
class Selection:
    """The chosen candidates, their classes, and what balancing did."""

    chosen: list[Candidate]
    classes: list[CaseClass] = field(default_factory=list)  # the class of each chosen candidate
    collapsed: int = 0
    note: str = ""


def select_balanced(
    corpus: list[Candidate],
    limit: int,
    probes: ReferenceProbes,
    long_options: Iterable[str] = (),
    floor: int = 0,
    reserve: Sequence[Candidate] = (),
) -> Selection:
    """Set cover with core cases first, so that what the program is for drives the score.

    Near-duplicates (the same argv up to abbreviated long options, stdin and files) collapse to one. Help,
    version and command-line errors together stay at most SHALLOW_SHARE of the suite, cases the errors-only
    imitation would pass at most IMITATION_SHARE, input errors at most INPUT_ERRORS_PER_CORE per core case,
    and no one answer more than SAME_ANSWER_SHARE, unless the program has almost no core behavior (then
    `note` says so). A suite smaller than `floor` is filled up with core cases the cover did not need: a
    second cover of their features first, then the rest in the order they were found (each reached something
    new when it was found), then the `reserve` (accepted runs with outputs of their own).
    """
    unique, collapsed = _collapse(corpus, tuple(long_options))
    classes = {id(c): classify(Behavior.of_candidate(c), probes) for c in unique}
    by_class: dict[CaseClass, list[Candidate]] = {kind: [] for kind in CaseClass}
    for candidate in unique:
        by_class[classes[id(candidate)]].append(candidate)
    core = by_class[CaseClass.core]
    scarce = len(core) < MIN_CORE
    # each class gets its share of the limit first, so that a limit that bites still leaves room for the
    # program's error handling; core cases then fill what is left
    chosen = select_cover(core, int(limit * CORE_FIRST_SHARE))
    chosen += select_cover(by_class[CaseClass.input_error], int(limit * INPUT_ERROR_SHARE), chosen_first=chosen)
    shallow = [c for c in unique if classes[id(c)] in SHALLOW]
    room = limit - len(chosen)
    if not scarce:
        room = min(room, int(limit * SHALLOW_SHARE * 0.7), int(SHALLOW_SHARE * len(chosen) / (1 - SHALLOW_SHARE)))
    chosen += select_cover(shallow, room, chosen_first=chosen)
    chosen += select_cover(core, limit - len(chosen), chosen_first=chosen)
    chosen += select_cover(by_class[CaseClass.input_error], limit - len(chosen), chosen_first=chosen)
    spare, _ = _collapse([*unique, *reserve], tuple(long_options))
    for candidate in spare[len(unique) :]:
        classes[id(candidate)] = classify(Behavior.of_candidate(candidate), probes)
    spare_core = [c for c in spare[len(unique) :] if classes[id(c)] == CaseClass.core]
    chosen = _fill_with_core(chosen, core, spare_core, min(floor, limit))
    note = ""
    if scarce:
        note = f"only {len(core)} core candidates found (fewer than {MIN_CORE}): shallow cases were not capped"
    else:
        chosen = _cap_input_errors(_cap_easy_answers(chosen, probes), classes)
        # the caps made room: more core cases where there are any
        chosen = _fill_with_core(chosen, core, spare_core, min(floor, limit))
    return Selection(chosen=chosen, classes=[classes[id(c)] for c in chosen], collapsed=collapsed, note=note)


def _fill_with_core(
    chosen: list[Candidate], core: list[Candidate], spare: list[Candidate], size: int
) -> list[Candidate]:
    """Core cases added until the suite has `size` cases: a second cover of the core cases not chosen (every line
    then meets two different inputs where the corpus has them: a fault planted on a line shows in one of two
    inputs' output more often than in one), then the rest in the order they were found, then the spare ones."""
    if len(chosen) >= size:
        return chosen
    taken = {id(c) for c in chosen}
    rest = [c for c in core if id(c) not in taken]
    second = select_cover(rest, size - len(chosen))
    taken |= {id(c) for c in second}
    more = second + [c for c in [*rest, *spare] if id(c) not in taken]
    return chosen + more[: size - len(chosen)]


def _collapse(corpus: list[Candidate], long_options: tuple[str, ...]) -> tuple[list[Candidate], int]:
    seen: set[object] = set()
    unique: list[Candidate] = []
    for candidate in corpus:
        spec = candidate.spec
        argv = tuple(
            canonical_flag(arg, long_options) + ("=" + arg.split("=", 1)[1] if "=" in arg else "")
            if arg.startswith("--")
            else arg
            for arg in spec.argv
        )
        key = (argv, spec.stdin, tuple(sorted(spec.files.items())))
        if key not in seen:
            seen.add(key)
            unique.append(candidate)
    return unique, len(corpus) - len(unique)


def _cap_input_errors(chosen: list[Candidate], classes: dict[int, CaseClass]) -> list[Candidate]:
    """At most INPUT_ERRORS_PER_CORE input errors per core case, the last-chosen dropped first: core cases
    dominate."""
    core = sum(classes[id(c)] == CaseClass.core for c in chosen)
    errors = [c for c in chosen if classes[id(c)] == CaseClass.input_error]
    dropped = {id(c) for c in errors[int(core * INPUT_ERRORS_PER_CORE) :]}
    return [c for c in chosen if id(c) not in dropped]


def _cap_easy_answers(chosen: list[Candidate], probes: ReferenceProbes) -> list[Candidate]:
    """Drop the last-chosen (least valuable) cases that the errors-only imitation or one constant answer
    would pass, until their shares of what is left are within IMITATION_SHARE and SAME_ANSWER_SHARE."""
    behaviors = [Behavior.of_candidate(candidate) for candidate in chosen]
    easy = [errors_only_passes(behavior, probes) for behavior in behaviors]
    answers = [(b.status, b.stdout, b.stderr, b.stdout_size, b.stderr_size) for b in behaviors]
    kept = list(range(len(chosen)))
    while kept:
        size = len(kept)
        passing = [i for i in kept if easy[i]]
        counts = Counter(answers[i] for i in kept)
        answer, most = counts.most_common(1)[0]
        if most > max(2, int(SAME_ANSWER_SHARE * size)):
            kept.remove(max(i for i in kept if answers[i] == answer))
        elif len(passing) > int(IMITATION_SHARE * size):
            kept.remove(passing[-1])
        else:
            break
    return [chosen[i] for i in kept]
