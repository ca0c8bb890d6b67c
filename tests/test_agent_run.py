"""Agent runs end to end: scripted and litellm models, the builtin and mini loops, limits, packing, batches."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml
from fake_openai import FakeOpenAI, ToolCall
from typer.testing import CliRunner

from twinbench.agent import (
    AgentConfigError,
    AgentKind,
    AgentOptions,
    BuiltinAgent,
    CleanRoom,
    ModelError,
    ScriptedModel,
    load_config,
    read_record,
    run_agent,
    run_batch,
)
from twinbench.agent.cleanroom import CLIENT_SOURCE
from twinbench.agent.pack import pack_workspace
from twinbench.cli import app
from twinbench.demo import DEMO_DIR, DEMO_TASK
from twinbench.formats import RunStats, TaskDir, load_task

DEMO_SCRIPT = DEMO_DIR / "agent" / "figlet-partial.yaml"
# the partial rebuild's known score on the demo suite (README, twinbench demo)
PARTIAL_PASSED, DEMO_TOTAL = 273, 368

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


def bash(command: str, thought: str = "Next step.", **extra: object) -> dict[str, object]:
    """One scripted reply with one bash block."""
    return {"content": f"{thought}\n\n```bash\n{command}\n```", **extra}


def write_script(path: Path, replies: list[object]) -> Path:
    path.write_text(yaml.safe_dump({"responses": replies}))
    return path


def run_builtin(
    room: CleanRoom, tmp_path: Path, replies: list[object], **overrides: object
) -> tuple[BuiltinAgent, object]:
    model = ScriptedModel(write_script(tmp_path / "script.yaml", replies))
    config = load_config(None, **overrides)
    agent = BuiltinAgent(
        model,
        room,
        config,
        context={
            "task_id": "figlet",
            "description": "figlet",
            "docs": ["help.txt"],
            "workspace": "/workspace",
            "executable": "./executable",
            "reference_client": "/run/twinbench/reference",
        },
        trajectory_path=tmp_path / "trajectory.json",
    )
    return agent, agent.run()


@pytest.mark.slow
def test_scripted_run_on_the_demo_task_submits_and_scores_like_the_partial_rebuild(tmp_path: Path) -> None:
    """The issue's check: a scripted run on the demo task produces a gradable submission with a known score."""
    out = tmp_path / "run"
    record = run_agent(load_task(DEMO_TASK), AgentOptions(model=f"scripted:{DEMO_SCRIPT}", then_eval=True), out)
    assert record.exit_status == "Submitted" and record.finished
    assert record.stats.steps == 7 and record.stats.reference_calls == 3
    assert record.stats.tokens.prompt == 7 * 1500 and record.stats.cost_usd == pytest.approx(6 * 0.0012 + 0.02)
    with tarfile.open(out / "submission.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["compile.sh", "figlet.py"]  # no client, no docs mount point
    evaluation = json.loads((out / "eval" / "eval.json").read_text())
    assert (evaluation["passed"], evaluation["total"]) == (PARTIAL_PASSED, DEMO_TOTAL)
    assert record.score == pytest.approx(PARTIAL_PASSED / DEMO_TOTAL)
    assert read_record(out) == record
    calls = [json.loads(line) for line in (out / "reference_calls.jsonl").read_text().splitlines()]
    assert [call["argv"][1:] for call in calls] == [["-w", "40", "hello"], ["-Z"], ["-c", "twin bench"]]
    assert calls[1]["exit_code"] == 1  # figlet's exit code for a bad option, relayed
    trajectory = json.loads((out / "trajectory.json").read_text())
    assert trajectory["info"]["exit_status"] == "Submitted" and len(trajectory["steps"]) == 7
    assert "cmp mine.txt reference.txt" in trajectory["steps"][5]["action"]
    assert trajectory["steps"][5]["output"].strip() == "identical"


@pytest.mark.slow
def test_mini_swe_agent_runs_the_same_script_in_the_clean_room(tmp_path: Path) -> None:
    out = tmp_path / "run"
    options = AgentOptions(model=f"scripted:{DEMO_SCRIPT}", agent=AgentKind.mini, then_eval=True, eval_workers=2)
    record = run_agent(load_task(DEMO_TASK), options, out)
    assert record.exit_status == "Submitted", record.message
    assert record.score == pytest.approx(PARTIAL_PASSED / DEMO_TOTAL)
    assert record.limits["step_limit"] == 1000  # ProgramBench's mini config
    trajectory = json.loads((out / "trajectory.json").read_text())
    assert trajectory["trajectory_format"].startswith("mini-swe-agent")
    assert "reverse-engineering benchmark" in trajectory["messages"][0]["content"]
    assert "<returncode>0</returncode>" in trajectory["messages"][3]["content"]


@pytest.mark.slow
def test_builtin_agent_through_litellm_against_a_local_openai_compatible_server(tmp_path: Path) -> None:
    replies = [bash("./executable -w 30 hi > out.txt && wc -l < out.txt"), bash("cat nothing-here")]
    with FakeOpenAI([str(reply["content"]) for reply in replies]) as server:
        options = AgentOptions(model="openai/local-model", api_base=server.url, step_limit=10)
        record = run_agent(load_task(DEMO_TASK), options, tmp_path / "run")
    assert record.exit_status == "Submitted", record.message
    assert len(server.requests) == 3 and all(r["path"].endswith("/chat/completions") for r in server.requests)
    first = server.requests[0]["body"]
    assert first["model"] == "local-model" and [m["role"] for m in first["messages"]] == ["system", "user"]
    assert "./executable" in first["messages"][1]["content"]
    observation = server.requests[1]["body"]["messages"][-1]["content"]
    assert "<returncode>0</returncode>" in observation and "6" in observation  # figlet's 6 lines, via the broker
    assert record.stats.tokens.prompt == 33 and record.stats.tokens.completion == 21
    assert record.stats.cost_known is False  # a local model has no price in litellm's table


@pytest.mark.slow
def test_mini_swe_agent_with_its_tool_calling_litellm_model_against_a_local_server(tmp_path: Path) -> None:
    """ProgramBench's baseline setup: mini's DefaultAgent and LitellmModel (bash tool calls), our clean room."""
    replies = [ToolCall("./executable -w 30 hi | wc -l"), ToolCall("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")]
    with FakeOpenAI(replies) as server:
        options = AgentOptions(model="openai/local-model", agent=AgentKind.mini, api_base=server.url, step_limit=5)
        record = run_agent(load_task(DEMO_TASK), options, tmp_path / "run")
    assert record.exit_status == "Submitted", record.message
    assert server.requests[0]["body"]["tools"][0]["function"]["name"] == "bash"
    tool_result = server.requests[1]["body"]["messages"][-1]
    assert tool_result["role"] == "tool" and tool_result["tool_call_id"] == "call_1"
    assert "<returncode>0</returncode>" in tool_result["content"] and "6" in tool_result["content"]
    assert record.stats.steps == 2 and record.stats.tokens.prompt == 22 and record.stats.cost_known is False
    assert record.stats.reference_calls == 1


def test_litellm_errors_end_the_run_with_model_error(tmp_path: Path, room: CleanRoom) -> None:
    from twinbench.agent import LitellmModel

    with FakeOpenAI([], status=400) as server:
        model = LitellmModel("openai/local-model", api_base=server.url, retries=0)
        with pytest.raises(ModelError) as caught:
            model.query([{"role": "user", "content": "hi"}])
    assert "\n" not in str(caught.value) and "BadRequest" in str(caught.value)


def test_step_limit_stops_the_loop_and_saves_every_step(tmp_path: Path, room: CleanRoom) -> None:
    seen: list[int] = []
    replies = [bash(f"echo step {n}") for n in range(5)]
    model = ScriptedModel(write_script(tmp_path / "script.yaml", replies))
    trajectory = tmp_path / "trajectory.json"

    def on_step(stats: RunStats) -> None:
        saved = json.loads(trajectory.read_text())
        seen.append(len(saved["steps"]))
        assert saved["info"]["stats"]["steps"] == stats.steps

    agent = BuiltinAgent(
        model,
        room,
        load_config(None, step_limit=3),
        context={
            "task_id": "t",
            "description": "d",
            "docs": [],
            "workspace": "/w",
            "executable": "./e",
            "reference_client": "/r",
        },
        trajectory_path=trajectory,
        on_step=on_step,
    )
    outcome = agent.run()
    assert outcome.exit_status == "LimitsExceeded" and outcome.stats.steps == 3
    assert seen == [1, 2, 3, 3]  # after each step, then once more at the end
    saved = json.loads(trajectory.read_text())
    assert [step["output"] for step in saved["steps"]] == ["step 0\n", "step 1\n", "step 2\n"]
    assert saved["info"]["exit_status"] == "LimitsExceeded"


def test_cost_limit_counts_what_the_model_billed(tmp_path: Path, room: CleanRoom) -> None:
    replies = [bash("true", cost=0.6, prompt_tokens=100, completion_tokens=5) for _ in range(5)]
    _, outcome = run_builtin(room, tmp_path, replies, cost_limit=1.0)
    assert outcome.exit_status == "CostLimitExceeded"  # type: ignore[attr-defined]
    assert outcome.stats.steps == 2 and outcome.stats.cost_usd == pytest.approx(1.2)  # type: ignore[attr-defined]
    assert outcome.stats.tokens.prompt == 200  # type: ignore[attr-defined]


def test_wall_limit_bounds_a_slow_action_and_ends_the_run(tmp_path: Path, room: CleanRoom) -> None:
    _, outcome = run_builtin(room, tmp_path, [bash("sleep 30"), bash("true")], wall_limit_s=2)
    assert outcome.exit_status == "TimeExceeded"  # type: ignore[attr-defined]
    # the action is killed at the deadline, and the run ends with it (not at the action's own timeout)
    assert 2 <= outcome.stats.seconds < 3  # type: ignore[attr-defined]
    steps = json.loads((tmp_path / "trajectory.json").read_text())["steps"]
    assert steps[0]["timed_out"] is True


def test_repeated_format_errors_end_the_run(tmp_path: Path, room: CleanRoom) -> None:
    replies = ["no block here", "```bash\nls\n```\n```bash\npwd\n```", "still nothing"]
    agent, outcome = run_builtin(room, tmp_path, replies)
    assert outcome.exit_status == "RepeatedFormatError"  # type: ignore[attr-defined]
    feedback = [m["content"] for m in agent.messages if m["role"] == "user"][1:]
    assert "it contained 0" in feedback[0] and "it contained 2" in feedback[1]


def test_an_exhausted_script_is_a_model_error_not_a_crash(tmp_path: Path, room: CleanRoom) -> None:
    _, outcome = run_builtin(room, tmp_path, [bash("true")])
    assert outcome.exit_status == "ModelError"  # type: ignore[attr-defined]
    assert "no reply left after 1" in outcome.message  # type: ignore[attr-defined]


def test_disk_limit_stops_an_agent_that_fills_its_workspace(tmp_path: Path, room: CleanRoom) -> None:
    try:
        _, outcome = run_builtin(
            room, tmp_path, [bash("head -c 3000000 /dev/urandom > big.bin"), bash("true")], disk_limit_mb=1
        )
        assert outcome.exit_status == "DiskLimitExceeded"  # type: ignore[attr-defined]
    finally:
        room.execute("rm -f big.bin")


def test_submit_marker_must_come_first_and_succeed(tmp_path: Path, room: CleanRoom) -> None:
    replies = [
        bash("echo hello; echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"),
        bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT; false"),
        bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"),
    ]
    _, outcome = run_builtin(room, tmp_path, replies)
    assert outcome.exit_status == "Submitted" and outcome.stats.steps == 3  # type: ignore[attr-defined]


def test_packing_keeps_sources_and_links_but_never_follows_them(tmp_path: Path, room: CleanRoom) -> None:
    room.execute(
        "mkdir -p src && echo 'int main(void){return 0;}' > src/main.c"
        " && printf '#!/bin/sh\\ncc -o executable src/main.c\\n' > compile.sh"
        " && chmod +x compile.sh && ./compile.sh && ln -s /etc/passwd passwd-link && mkfifo pipe"
    )
    try:
        archive = tmp_path / "submission.tar.gz"
        packed = pack_workspace(room.workspace, archive, client=CLIENT_SOURCE.read_bytes())
        with tarfile.open(archive) as tar:
            members = {member.name: member for member in tar.getmembers()}
        assert set(members) == {"src", "src/main.c", "compile.sh", "passwd-link"}
        assert members["passwd-link"].issym() and members["passwd-link"].linkname == "/etc/passwd"
        assert members["compile.sh"].mode & 0o111 and members["compile.sh"].uid == 0
        assert sorted(packed.dropped) == [
            "executable: a compiled binary; compile.sh must build ./executable",
            "pipe: not a regular file",
        ]
    finally:
        room.execute("rm -rf src compile.sh passwd-link pipe executable")
        (room.workspace / "executable").write_bytes(CLIENT_SOURCE.read_bytes())
        (room.workspace / "executable").chmod(0o755)


def test_scripted_model_files_are_validated_with_one_line_errors(tmp_path: Path) -> None:
    cases = {
        "empty.yaml": "",
        "scalar.yaml": "just text",
        "bad.yaml": "responses: [unclosed",
        "negative.yaml": "- content: hi\n  cost: -1\n",
        "nocontent.yaml": "- cost: 1\n",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(ModelError) as caught:
            ScriptedModel(tmp_path / name)
        assert "\n" not in str(caught.value), name
    with pytest.raises(ModelError, match="cannot read"):
        ScriptedModel(tmp_path / "missing.yaml")


def test_agent_config_overrides_and_errors(tmp_path: Path) -> None:
    custom = tmp_path / "agent.yaml"
    custom.write_text("step_limit: 7\nsubmit_marker: DONE_NOW\n")
    config = load_config(custom, step_limit=None, cost_limit=2.5)
    assert (config.step_limit, config.cost_limit, config.submit_marker) == (7, 2.5, "DONE_NOW")
    assert "bash" in config.action_regex
    for text, message in [
        ("step_limit: -1\n", "step_limit"),
        ("nonsense_key: 1\n", "nonsense_key"),
        ("action_regex: '('\n", "regex"),
        ("- a list\n", "mapping"),
    ]:
        custom.write_text(text)
        with pytest.raises(AgentConfigError, match=message):
            load_config(custom)


def _copy_task(source: Path, target: Path, task_id: str) -> Path:
    shutil.copytree(source, target)
    spec = yaml.safe_load((target / "task.yaml").read_text())
    spec["id"] = task_id
    (target / "task.yaml").write_text(yaml.safe_dump(spec))
    return target


@pytest.mark.slow
def test_batch_runs_every_task_once_and_resumes(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    _copy_task(DEMO_TASK, tasks / "one", "figlet-one")
    _copy_task(DEMO_TASK, tasks / "two", "figlet-two")
    (tasks / "broken").mkdir()
    (tasks / "broken" / "task.yaml").write_text("id: [not valid")
    script = write_script(
        tmp_path / "script.yaml", [bash("ls docs > seen.txt"), bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")]
    )
    options = AgentOptions(model=f"scripted:{script}")
    runs = tmp_path / "runs"
    summary = run_batch(tasks, options, runs, workers=2)
    by_task = {entry.task: entry for entry in summary.tasks}
    assert by_task["figlet-one"].status == "ran" and by_task["figlet-one"].exit_status == "Submitted"
    assert by_task["figlet-two"].status == "ran" and by_task["broken"].status == "invalid"
    assert summary.finished == 2 and summary.submitted == 2
    saved = json.loads((runs / "summary.json").read_text())
    assert saved["finished"] == 2 and len(saved["tasks"]) == 3
    with tarfile.open(runs / "figlet-one" / "submission.tar.gz") as tar:
        assert tar.getnames() == ["seen.txt"]
    # an interrupted run (finished: false) is redone, a finished one is skipped
    record = json.loads((runs / "figlet-two" / "agent.json").read_text())
    record["finished"] = False
    (runs / "figlet-two" / "agent.json").write_text(json.dumps(record))
    before = (runs / "figlet-one" / "agent.json").read_text()
    again = run_batch(tasks, options, runs, workers=1)
    statuses = {entry.task: entry.status for entry in again.tasks}
    assert statuses == {"figlet-one": "skipped", "figlet-two": "ran", "broken": "invalid"}
    assert (runs / "figlet-one" / "agent.json").read_text() == before
    # asking for grades later grades the finished runs' submissions without running the agent again
    graded = run_batch(tasks, options.model_copy(update={"then_eval": True, "eval_workers": 2}), runs)
    assert {entry.task: entry.status for entry in graded.tasks}["figlet-one"] == "graded"
    assert all(entry.score == 0.0 for entry in graded.tasks if entry.status == "graded")  # ls output is no figlet
    assert read_record(runs / "figlet-one").stats.steps == 2  # type: ignore[union-attr]


def test_agent_run_cli_refuses_bad_input_with_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["agent", "run", str(DEMO_TASK), "--model", f"scripted:{tmp_path}/none.yaml"])
    assert missing.exit_code == 2 and "cannot read the scripted model" in missing.output
    bad_agent = runner.invoke(app, ["agent", "run", str(DEMO_TASK), "--model", "x/y", "--agent", "other"])
    assert bad_agent.exit_code == 2 and "unknown agent" in bad_agent.output
    not_a_task = runner.invoke(app, ["agent", "run", str(tmp_path), "--model", "x/y"])
    assert not_a_task.exit_code == 2 and "not a task directory" in not_a_task.output
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "agent.json").write_text("{}")
    refused = runner.invoke(
        app, ["agent", "run", str(DEMO_TASK), "--model", f"scripted:{DEMO_SCRIPT}", "-o", str(taken)]
    )
    assert refused.exit_code == 2 and "--force" in refused.output


@pytest.mark.slow
def test_agent_run_cli_end_to_end(tmp_path: Path) -> None:
    script = write_script(tmp_path / "script.yaml", [bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")])
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twinbench",
            "agent",
            "run",
            str(DEMO_TASK),
            "--model",
            f"scripted:{script}",
            "-o",
            str(out),
            "--step-limit",
            "5",
        ],
        capture_output=True,
        text=True,
        env=os.environ | {"COLUMNS": "200"},
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "figlet: Submitted after 1 step," in result.stdout
    record = read_record(out)
    assert record is not None and (out / "submission.tar.gz").is_file()
    if os.geteuid() == 0:
        assert record.reference_exposures == [] and "not sealed" not in result.stderr


def test_a_reference_that_cannot_be_sealed_is_reported_in_agent_json_and_by_the_cli(tmp_path: Path) -> None:
    """A script reference can always be made to print itself: the run says so instead of implying a seal."""
    from twinbench.reference.taskgen import create_task

    reference = tmp_path / "bin" / "greet"
    reference.parent.mkdir()
    reference.write_text('#!/bin/sh\necho "hello $1"\n')
    reference.chmod(0o755)
    create_task("greet", tmp_path / "greet", binary_path=reference)
    script = write_script(
        tmp_path / "script.yaml", [bash("./executable world"), bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")]
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["agent", "run", str(tmp_path / "greet"), "--model", f"scripted:{script}", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "warning: not sealed: the reference is a script" in result.output
    record = read_record(out)
    assert record is not None and len(record.reference_exposures) == 1
    trajectory = json.loads((out / "trajectory.json").read_text())
    assert "hello world" in json.dumps(trajectory)


def test_an_unexpected_failure_is_recorded_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug while packing (here: an injected RuntimeError) ends the run as HarnessError in agent.json."""
    import twinbench.agent.run as run_module

    def broken_pack(*args: object, **kwargs: object) -> None:
        raise RuntimeError("packing exploded\nsecond line")

    monkeypatch.setattr(run_module, "pack_workspace", broken_pack)
    script = write_script(tmp_path / "script.yaml", [bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")])
    record = run_agent(load_task(DEMO_TASK), AgentOptions(model=f"scripted:{script}"), tmp_path / "run")
    assert record.exit_status == "HarnessError" and not record.finished
    assert record.message == "unexpected RuntimeError: packing exploded second line"
    assert read_record(tmp_path / "run") == record


def test_one_failing_task_does_not_end_the_batch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import twinbench.agent.batch as batch_module

    tasks = tmp_path / "tasks"
    _copy_task(DEMO_TASK, tasks / "one", "figlet-one")
    _copy_task(DEMO_TASK, tasks / "two", "figlet-two")
    real_run_agent = batch_module.run_agent

    def flaky(task_dir: TaskDir, *args: object, **kwargs: object) -> object:
        if task_dir.task.id == "figlet-one":
            raise MemoryError("no memory left")
        return real_run_agent(task_dir, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(batch_module, "run_agent", flaky)
    script = write_script(tmp_path / "script.yaml", [bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")])
    summary = run_batch(tasks, AgentOptions(model=f"scripted:{script}"), tmp_path / "runs")
    by_task = {entry.task: entry for entry in summary.tasks}
    assert by_task["figlet-one"].status == "error" and "MemoryError: no memory left" in by_task["figlet-one"].message
    assert by_task["figlet-two"].status == "ran" and by_task["figlet-two"].exit_status == "Submitted"


def test_packing_survives_a_hostile_workspace(tmp_path: Path, room: CleanRoom) -> None:
    """Undecodable and multi-line names, symlink loops, a path too long to open, a mode-000 directory."""
    room.execute(
        "touch $'bad\\xffname' $'new\\nline' && mkdir -p loop && ln -s .. loop/up && ln -s loop/up/loop self"
        " && d=deep; for i in $(seq 200); do d=$d/dddddddddddddddddddddddddd; done; mkdir -p $d"
        " && mkdir locked && echo s > locked/secret && chmod 000 locked"
    )
    try:
        archive = tmp_path / "submission.tar.gz"
        packed = pack_workspace(room.workspace, archive, client=CLIENT_SOURCE.read_bytes())
        with tarfile.open(archive) as tar:
            members = {member.name: member for member in tar.getmembers()}
        assert {"bad\udcffname", "new\nline", "locked/secret"} <= set(members)
        assert members["loop/up"].issym() and members["self"].issym()
        assert any("File name too long" in note and len(note) < 300 for note in packed.dropped)
    finally:
        room.execute("chmod 700 locked; rm -rf ./* 2>/dev/null; true")
        (room.workspace / "executable").write_bytes(CLIENT_SOURCE.read_bytes())
        (room.workspace / "executable").chmod(0o755)
        (room.workspace / "docs").mkdir(exist_ok=True)
