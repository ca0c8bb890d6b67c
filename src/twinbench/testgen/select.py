"""Selection stage: the fewest candidates that keep every feature, and the group each case is filed under."""

from __future__ import annotations

import heapq
from collections.abc import Callable

from twinbench.testgen.explore import Candidate, Feature, is_code_feature


def select_cover(corpus: list[Candidate], limit: int, chosen_first: list[Candidate] | None = None) -> list[Candidate]:
    """Greedy set cover: the fewest candidates that keep every feature, most valuable first.

    Code coverage comes first: when the limit bites, behavioral features give way before source edges do.
    Features of `chosen_first` (already kept) count as covered; they are not part of the answer.
    """
    already: set[Feature] = set()
    for candidate in chosen_first or []:
        already |= candidate.features
    chosen: list[int] = []
    wanted_passes: tuple[Callable[[Feature], bool], ...] = (is_code_feature, lambda feature: True)
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
