"""Shared by the coverage tests: runs of an instrumented toy in parallel sandboxes, and measured in parallel."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from twinbench.reference.coverage import CoverageBuild, features_of, guidance_settings, line_coverage
from twinbench.sandbox import WORK_DIR, ExecRequest, SessionConfig, get_sandbox
from twinbench.sandbox.pool import SessionPool

COUNTER_DIR = f"{WORK_DIR}/.twinbench-gcov"


def parallel_sandboxed_features(
    build: CoverageBuild, tree: Path, inputs: list[list[str]], rounds: int
) -> tuple[dict[tuple[str, ...], frozenset[object]], list[tuple[tuple[str, ...], frozenset[object], int]]]:
    """Features of each input run alone, and of every run of `rounds` interleaved copies of the inputs run by
    two sandbox workers at once: (alone by input, [(input, features, counter files collected)])."""
    env, collect, files = guidance_settings(build, COUNTER_DIR)

    def request(args: list[str]) -> ExecRequest:
        return ExecRequest(
            argv=["./executable", *args], env={"PATH": "/usr/bin:/bin", **env}, collect=collect, files=files
        )

    alone: dict[tuple[str, ...], frozenset[object]] = {}
    together: list[tuple[tuple[str, ...], frozenset[object], int]] = []
    with SessionPool(get_sandbox("bwrap"), SessionConfig(tree=tree), workers=1) as pool:
        pool.map(
            ((tuple(args), request(args)) for args in inputs),
            lambda key, result: alone.__setitem__(key, features_of(result.files)),
        )
    with SessionPool(get_sandbox("bwrap"), SessionConfig(tree=tree), workers=2) as pool:
        pool.map(
            ((tuple(args), request(args)) for _ in range(rounds) for args in inputs),
            lambda key, result: together.append(
                (key, features_of(result.files), sum(1 for content in result.files.values() if content))
            ),
        )
    return alone, together


def parallel_measurements(build: CoverageBuild, inputs: list[list[str]], runs: int) -> tuple[list[float], list[float]]:
    """Line coverage of `runs` host runs of each input, measured one input after the other and then all at once."""

    def measure(args: list[str]) -> float:
        def run_all(env_extra: dict[str, str]) -> None:
            for _ in range(runs):
                env = {**os.environ, **env_extra}
                subprocess.run([str(build.binary), *args], env=env, capture_output=True, check=True)

        return line_coverage(build, run_all).percent

    alone = [measure(args) for args in inputs]
    with ThreadPoolExecutor(max_workers=len(inputs)) as pool:
        together = list(pool.map(measure, inputs))
    return alone, together
