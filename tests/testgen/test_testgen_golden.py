"""Same seed, same suite: the first invocations for a fixed seed and the frozen figlet doc model are pinned.

When a change to synthesis is meant to change them, regenerate the golden file with
`python tests/test_testgen_golden.py` and review its diff like code.
"""

from __future__ import annotations

import json
import random
import sys

from tests.helpers_paths import TEST_DATA
from twinbench.demo import DEMO_TASK
from twinbench.formats import load_task
from twinbench.testgen.explore import Candidate
from twinbench.testgen.inputs import detect_kinds
from twinbench.testgen.pipeline import load_cli_model, read_generation_inputs
from twinbench.testgen.synthesize import Synthesizer

GOLDEN = TEST_DATA / "testgen_golden_figlet.json"
SEED = 11
SEEDS_PINNED = 60
MUTANTS_PINNED = 30


def first_invocations() -> list[dict[str, object]]:
    """The first seeds and mutations the synthesizer makes for the demo figlet task."""
    task_dir = load_task(DEMO_TASK)
    inputs = read_generation_inputs(task_dir, load_cli_model(task_dir))
    rng = random.Random(SEED)
    synth = Synthesizer(
        inputs.model,
        rng,
        detect_kinds(inputs.docs_text),
        inputs.vocabulary,
        inputs.data_files,
        docs_text=inputs.docs_text,
    )
    seeds = [spec for _, spec in zip(range(SEEDS_PINNED), synth.seeds(), strict=False)]
    parents = [Candidate(spec=spec) for spec in seeds[:5]]
    mutants = [synth.mutate(parents[n % len(parents)], seeds) for n in range(MUTANTS_PINNED)]
    return [
        {"argv": spec.argv, "stdin": spec.stdin.decode("utf-8", "backslashreplace"), "files": sorted(spec.files)}
        for spec in [*seeds, *mutants]
    ]


def test_first_invocations_for_a_fixed_seed_are_pinned() -> None:
    assert first_invocations() == json.loads(GOLDEN.read_text(encoding="utf-8"))


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(first_invocations(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    sys.stdout.write(f"wrote {GOLDEN}\n")
