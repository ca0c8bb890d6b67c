"""What the clean room costs an agent: one bash action, and one run of ./executable through the broker.

    python benchmarks/bench_agent.py [--calls 100] [--actions 30] [--repeats 5] [--json out.json]

Measured side by side in one run, on the bundled figlet task:
- bare `figlet hi` on the host, in a bash loop (the floor);
- `./executable hi` inside the clean room, in the same bash loop: the client (python3 -IS) + broker +
  a fresh bubblewrap sandbox for the reference, as another uid, execute-only binary, uid dropped before main;
- `python3 -IS -c pass` inside the clean room, in the same loop: the client's own start-up share;
- one clean-room action (`true`), as the agent loop runs it: a fresh bubblewrap sandbox per action;
- one bare `bash -c true` on the host, for that comparison.
The report shows medians over the repeats and the ratios against bare execution.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

from twinbench.agent import CleanRoom
from twinbench.demo import DEMO_TASK
from twinbench.formats import load_task

LOOP = "for i in $(seq {n}); do {command} > /dev/null; done"


def timed_loop(run: object, command: str, calls: int) -> float:
    """Milliseconds per call of `command` in a bash loop of `calls` iterations, run by `run`."""
    started = time.perf_counter()
    result = run(LOOP.format(n=calls, command=command))  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    if result != 0:
        raise SystemExit(f"the loop over {command!r} failed with {result}")
    return elapsed * 1000 / calls


def host_bash(script: str) -> int:
    return subprocess.run(["bash", "-c", script], check=False).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100, help="reference runs per loop")
    parser.add_argument("--actions", type=int, default=30, help="clean-room actions per repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    samples: dict[str, list[float]] = {
        "bare figlet (host)": [],
        "./executable via broker": [],
        "python3 -IS start (in room)": [],
        "bare bash -c true (host)": [],
        "clean-room action": [],
    }
    with CleanRoom(load_task(DEMO_TASK)) as room:

        def in_room(script: str) -> int:
            return room.execute(script, timeout_s=600).returncode

        in_room("./executable warm-up")  # builds nothing, but pages in bwrap, python and figlet
        for _ in range(args.repeats):
            samples["bare figlet (host)"].append(timed_loop(host_bash, "figlet hi", args.calls))
            samples["./executable via broker"].append(timed_loop(in_room, "./executable hi", args.calls))
            samples["python3 -IS start (in room)"].append(timed_loop(in_room, "python3 -IS -c pass", args.calls))
            started = time.perf_counter()
            for _ in range(args.actions):
                subprocess.run(["bash", "-c", "true"], check=True)
            samples["bare bash -c true (host)"].append((time.perf_counter() - started) * 1000 / args.actions)
            started = time.perf_counter()
            for _ in range(args.actions):
                if room.execute("true").returncode != 0:
                    raise SystemExit("a clean-room action failed")
            samples["clean-room action"].append((time.perf_counter() - started) * 1000 / args.actions)
        calls = room.broker.calls if room.broker is not None else 0
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(f"twinbench agent benchmark: {platform.node()}, {args.repeats} repeats, medians")
    print(f"{'what':34} {'ms each':>9} {'x bare':>8}")
    bare_for = {
        "bare figlet (host)": "bare figlet (host)",
        "./executable via broker": "bare figlet (host)",
        "python3 -IS start (in room)": "bare figlet (host)",
        "bare bash -c true (host)": "bare bash -c true (host)",
        "clean-room action": "bare bash -c true (host)",
    }
    for name, value in medians.items():
        print(f"{name:34} {value:9.2f} {value / medians[bare_for[name]]:8.1f}")
    overhead = medians["./executable via broker"] - medians["bare figlet (host)"]
    print(f"broker overhead per reference run: {overhead:.1f} ms ({calls} runs served)")
    if args.json:
        args.json.write_text(json.dumps({"medians_ms": medians, "samples_ms": samples}, indent=2))


if __name__ == "__main__":
    main()
