"""Agent runs under hostile input and slow or failing models: limits hold, Ctrl-C stops a batch, errors are one line."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import yaml
from click.testing import Result
from fake_openai import FakeOpenAI
from test_agent_run import _copy_task, bash, write_script
from typer.testing import CliRunner

from twinbench.agent import (
    AgentConfigError,
    AgentKind,
    AgentOptions,
    BuiltinAgent,
    BuiltinConfig,
    CleanRoom,
    LitellmModel,
    ModelError,
    ScriptedModel,
    load_config,
    read_record,
    run_agent,
    run_batch,
)
from twinbench.agent.mini import load_mini_config
from twinbench.agent.models import import_litellm, model_for
from twinbench.cli import app
from twinbench.demo import DEMO_TASK
from twinbench.formats import ModelReply, TaskDir
from twinbench.protocols import Model

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

SUBMIT = bash("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")
CONTEXT = {
    "task_id": "figlet",
    "description": "figlet",
    "docs": [],
    "workspace": "/workspace",
    "executable": "./executable",
    "reference_client": "/run/twinbench/reference",
}
# what trajectory.json keeps of one step's output (docs/formats.md)
STEP_OUTPUT_CHARS = 64 * 1024
# how far past its wall limit a run may end, by its own clock: noticing the deadline and writing the
# trajectory (the limit once hid a 2.6 s bug behind a 4 s slack, see test_wall_limit_holds_from_a_cold_start)
PAST_LIMIT_S = 1.0


def builtin_agent(model: Model, room: CleanRoom, tmp_path: Path, config: BuiltinConfig) -> BuiltinAgent:
    return BuiltinAgent(model, room, config, context=CONTEXT, trajectory_path=tmp_path / "trajectory.json")


def one_line_error(result: Result, code: int = 2) -> str:
    """The CLI's output for a refused input, after checking it is one `error:` line and no traceback."""
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output and result.output.count("error:") == 1, result.output
    return result.output


# 1. --wall-limit bounds model time and actions


def test_wall_limit_cuts_a_slow_model_call_short(tmp_path: Path, room: CleanRoom) -> None:
    with FakeOpenAI([], delay_s=30) as server:
        model = model_for("openai/local-model", api_base=server.url)  # as `agent run` does: litellm loads here
        started = time.monotonic()
        outcome = builtin_agent(model, room, tmp_path, load_config(None, wall_limit_s=2)).run()
        took = time.monotonic() - started
    assert outcome.exit_status == "TimeExceeded", outcome.message
    assert 2 <= outcome.stats.seconds < 2 + PAST_LIMIT_S and took < 2 + PAST_LIMIT_S, (outcome.stats, took)
    assert len(server.requests) == 1  # no retry of a call the deadline cut short


COLD_QUERY = """
    import json, os, sys, time
    from fake_openai import FakeOpenAI
    from twinbench.agent.models import LitellmModel, ModelError
    assert "litellm" not in sys.modules
    with FakeOpenAI([], delay_s=30) as server:
        model = LitellmModel("openai/local-model", api_base=server.url)
        started = time.monotonic()
        try:
            model.query([{"role": "user", "content": "hi"}], timeout_s=2)
            error = None
        except ModelError as exc:
            error = str(exc)
        took = time.monotonic() - started
    print(json.dumps({"seconds": took, "error": error}), flush=True)
    os._exit(0)  # the abandoned call may still be loading litellm: nothing of it is waited for
"""


@pytest.mark.slow
def test_a_query_holds_its_time_from_a_cold_start(tmp_path: Path) -> None:
    """Regression: the first query imported litellm (seconds, cold) before its deadline was set, and the HTTP
    timeout did not bound the first call's own lazy imports: 2 s took 4.6 s and more. Now loading and
    calling run against the deadline, and what is still running at it is abandoned."""
    script = tmp_path / "cold.py"
    script.write_text(textwrap.dedent(COLD_QUERY))
    tests_dir = Path(__file__).parent
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(tests_dir), *sys.path])}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["error"] and "wall limit" in report["error"], report
    assert report["seconds"] < 2 + PAST_LIMIT_S, report


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["builtin", "mini"])
def test_wall_limit_holds_from_a_cold_start(tmp_path: Path, agent: str) -> None:
    """`agent run --wall-limit 2` in a fresh process against a server that never answers in time: the agent's
    clock starts once litellm is loaded (before the run, said in the README), and the run ends at 2 s."""
    out = tmp_path / "run"
    with FakeOpenAI([], delay_s=30) as server:
        command = [sys.executable, "-m", "twinbench", "agent", "run", str(DEMO_TASK), "--model", "openai/local-model"]
        command += ["--api-base", server.url, "--agent", agent, "--wall-limit", "2", "-o", str(out)]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    record = read_record(out)
    assert record is not None, result.stderr
    assert record.exit_status == "TimeExceeded", (record.exit_status, record.message, result.stderr)
    assert record.stats.seconds < 2 + PAST_LIMIT_S, record.stats


class LateModel:
    """A model that answers after the run's time is up, whatever timeout it is given."""

    name = "late"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s

    def query(self, messages: list[dict[str, str]], timeout_s: float | None = None) -> ModelReply:
        time.sleep(self.delay_s)
        return ModelReply(content=str(bash("touch acted-after-the-limit")["content"]))


def test_a_reply_after_the_wall_limit_is_recorded_but_not_acted_on(tmp_path: Path, room: CleanRoom) -> None:
    try:
        outcome = builtin_agent(LateModel(1.5), room, tmp_path, load_config(None, wall_limit_s=1)).run()
        assert outcome.exit_status == "TimeExceeded"
        assert not (room.workspace / "acted-after-the-limit").exists()
        steps = json.loads((tmp_path / "trajectory.json").read_text())["steps"]
        assert steps[-1]["action"] is None and steps[-1]["note"] == "not run: no time left"
    finally:
        room.execute("rm -f acted-after-the-limit")


def test_model_retries_back_off_only_within_the_time_given(tmp_path: Path) -> None:
    # litellm is imported on the first call: several seconds on a loaded machine that would eat the 12 s
    # this test gives the retries, so it is imported before the clock starts
    import_litellm()
    with FakeOpenAI([], status=500) as server:
        model = LitellmModel("openai/local-model", api_base=server.url)
        started = time.monotonic()
        with pytest.raises(ModelError, match="InternalServerError"):
            model.query([{"role": "user", "content": "hi"}], timeout_s=12)
    # one retry after 4 s fits in 12 s, the next (8 s after that, plus a second to run) would not: no waiting
    assert len(server.requests) == 2
    assert 4 <= time.monotonic() - started < 8


def test_mini_against_a_failing_server_ends_at_its_wall_limit(tmp_path: Path, figlet_task: TaskDir) -> None:
    """mini-swe-agent's own retries waited minutes (10 attempts, up to 60 s apart) whatever --wall-limit said."""
    with FakeOpenAI([], status=500) as server:
        options = AgentOptions(model="openai/local-model", agent=AgentKind.mini, api_base=server.url, wall_limit_s=12)
        started = time.monotonic()
        record = run_agent(figlet_task, options, tmp_path / "run")
    # as above: one retry 4 s after the first failure, none 8 s after the second, so no waiting for the limit
    assert 4 <= record.stats.seconds < 12 and time.monotonic() - started < 12, record.stats
    assert record.exit_status == "InternalServerError" and record.finished
    assert len(server.requests) == 2


def test_mini_against_a_slow_server_ends_at_its_wall_limit(tmp_path: Path, figlet_task: TaskDir) -> None:
    with FakeOpenAI([], delay_s=30) as server:
        options = AgentOptions(model="openai/local-model", agent=AgentKind.mini, api_base=server.url, wall_limit_s=2)
        record = run_agent(figlet_task, options, tmp_path / "run")
    assert record.exit_status == "TimeExceeded", record.message
    assert 2 <= record.stats.seconds < 2 + PAST_LIMIT_S, record.stats


def test_mini_actions_get_only_the_time_left(tmp_path: Path, figlet_task: TaskDir) -> None:
    script = write_script(tmp_path / "script.yaml", [bash("sleep 30"), bash("touch too-late"), SUBMIT])
    options = AgentOptions(model=f"scripted:{script}", agent=AgentKind.mini, wall_limit_s=2)
    record = run_agent(figlet_task, options, tmp_path / "run")
    assert 2 <= record.stats.seconds < 2 + PAST_LIMIT_S, record.stats
    assert record.exit_status == "TimeExceeded" and record.limits["wall_limit_s"] == 2
    trajectory = json.loads((tmp_path / "run" / "trajectory.json").read_text())
    assert "ran longer than" in json.dumps(trajectory["messages"])


# 2. Ctrl-C stops a batch


def test_ctrl_c_stops_a_batch_records_the_running_task_and_exits_130(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    for name in ("t1", "t2", "t3"):
        _copy_task(DEMO_TASK, tasks / name, name)
    script = write_script(tmp_path / "script.yaml", [bash("sleep 1") for _ in range(30)] + [SUBMIT])
    runs = tmp_path / "runs"
    # where the clean rooms go, to see them closed; short, as the broker's socket path must be
    rooms = Path(tempfile.mkdtemp(prefix="tb-rooms-"))
    command = [sys.executable, "-m", "twinbench", "agent", "batch", str(tasks), "-m", f"scripted:{script}"]
    # its own session, so that the signal goes to its whole process group, as a terminal's Ctrl-C does
    batch = subprocess.Popen(
        [*command, "-o", str(runs), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | {"COLUMNS": "200", "TMPDIR": str(rooms)},
        start_new_session=True,
    )
    try:
        # a unit runs in a scratch dir of its worker (here in TMPDIR); the batch writes RUN_DIR/t1 when it ends
        def steps_taken() -> bool:
            for trajectory in rooms.glob("twinbench-unit-*/out/trajectory.json"):
                try:
                    if json.loads(trajectory.read_text() or "{}").get("steps"):
                        return True
                except (OSError, ValueError):
                    pass  # being rewritten
            return False

        deadline = time.monotonic() + 60
        while not steps_taken():
            assert batch.poll() is None and time.monotonic() < deadline, batch.communicate()
            time.sleep(0.2)
        os.killpg(batch.pid, signal.SIGINT)
        _, stderr = batch.communicate(timeout=20)
        left_behind = [
            path.name for path in rooms.iterdir() if path.name.startswith(("twinbench-room-", "twinbench-unit-"))
        ]
    finally:
        if batch.poll() is None:
            os.killpg(batch.pid, signal.SIGKILL)
            batch.wait()
        shutil.rmtree(rooms, ignore_errors=True)
    assert batch.returncode == 130, stderr
    assert "Traceback" not in stderr and "error: interrupted; 3 tasks not done" in stderr, stderr
    summary = json.loads((runs / "summary.json").read_text())
    assert {entry["task"]: entry["status"] for entry in summary["tasks"]} == {
        "t1": "interrupted",
        "t2": "pending",
        "t3": "pending",
    }
    record = read_record(runs / "t1")
    assert record is not None and record.exit_status == "Interrupted" and not record.finished
    assert not (runs / "t2").exists()
    assert left_behind == []


# 3. batch entries: invalid directories, duplicate ids, links


def test_batch_keys_invalid_directories_apart_from_task_ids_and_skips_links(tmp_path: Path) -> None:
    tasks = tmp_path / "tasks"
    (tasks / "a").mkdir(parents=True)
    (tasks / "a" / "task.yaml").write_text("id: [broken")
    _copy_task(DEMO_TASK, tasks / "b", "a")  # directory b holds task a
    _copy_task(DEMO_TASK, tasks / "tb", "tb")
    (tasks / "link").symlink_to("tb")  # sorts before tb: it must not take tb's place
    options = AgentOptions(model=f"scripted:{write_script(tmp_path / 'script.yaml', [SUBMIT])}")
    runs = tmp_path / "runs"
    summary = run_batch(tasks, options, runs)
    rows = sorted((entry.task, entry.status, entry.message[:40]) for entry in summary.tasks)
    assert [(task, status) for task, status, _ in rows] == [
        ("a", "invalid"),
        ("a", "ran"),
        ("link", "invalid"),
        ("tb", "ran"),
    ]
    assert "same directory as tb" in rows[2][2]
    again = run_batch(tasks, options, runs)
    statuses = sorted((entry.task, entry.status) for entry in again.tasks)
    assert statuses == [("a", "invalid"), ("a", "skipped"), ("link", "invalid"), ("tb", "skipped")]
    assert again.finished == 2 and json.loads((runs / "summary.json").read_text())["finished"] == 2


# 4. one-line errors instead of tracebacks


def test_unreadable_configs_and_scripts_are_one_line_errors(tmp_path: Path) -> None:
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(bytes(range(256)) * 4)
    nested = tmp_path / "nested.yaml"
    nested.write_text("[" * 50000)
    runner = CliRunner()
    model = ["--model", f"scripted:{write_script(tmp_path / 'script.yaml', [SUBMIT])}"]
    for agent in ("builtin", "mini"):
        for config in (binary, nested):
            result = runner.invoke(
                app, ["agent", "run", str(DEMO_TASK), *model, "--agent", agent, "--config", str(config)]
            )
            assert "not valid YAML" in one_line_error(result)
    for script in (binary, nested):
        result = runner.invoke(app, ["agent", "run", str(DEMO_TASK), "--model", f"scripted:{script}"])
        assert "not valid YAML" in one_line_error(result)
    with pytest.raises(AgentConfigError, match="nested too deeply"):
        load_config(nested)
    with pytest.raises(AgentConfigError, match="not valid YAML"):
        load_mini_config(binary)


def test_a_model_name_without_a_provider_is_bad_input_before_any_room_opens(tmp_path: Path) -> None:
    """Regression: `agent run -m bogus` opened a room, ended as ModelError after 0 steps and exited 0."""
    runner = CliRunner()
    for command in (["agent", "run", str(DEMO_TASK)], ["agent", "batch", str(DEMO_TASK.parent)]):
        out = tmp_path / command[1]
        result = runner.invoke(app, [*command, "--model", "bogus", "-o", str(out)])
        assert result.exit_code == 2, result.output
        assert "no provider for model 'bogus'" in one_line_error(result)
        assert not (out / "agent.json").exists()
    assert isinstance(model_for("openai/local-model", api_base="http://127.0.0.1:9/v1"), LitellmModel)
    assert isinstance(model_for("anthropic/claude-sonnet-4-5"), LitellmModel)


def test_unusable_output_directories_are_one_line_errors(tmp_path: Path) -> None:
    runner = CliRunner()
    model = ["--model", f"scripted:{write_script(tmp_path / 'script.yaml', [SUBMIT])}"]
    tasks = tmp_path / "tasks"
    _copy_task(DEMO_TASK, tasks / "figlet", "figlet")
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    result = runner.invoke(app, ["agent", "batch", str(tasks), *model, "-o", str(a_file)])
    assert "cannot use" in one_line_error(result)
    runs = tmp_path / "runs"
    (runs / "summary.json").mkdir(parents=True)
    result = runner.invoke(app, ["agent", "batch", str(tasks), *model, "-o", str(runs)])
    assert "summary.json" in one_line_error(result)
    assert not (runs / "figlet").exists()  # nothing ran
    target = tmp_path / "target"
    target.mkdir()
    (target / "agent.json").write_text("{}")
    (tmp_path / "link").symlink_to(target)
    result = runner.invoke(app, ["agent", "run", str(DEMO_TASK), *model, "-o", str(tmp_path / "link"), "--force"])
    assert "symbolic link" in one_line_error(result)
    assert (target / "agent.json").exists()
    result = runner.invoke(app, ["agent", "run", str(DEMO_TASK), *model, "-o", "/proc/twinbench-cannot-be"])
    assert "cannot use /proc/twinbench-cannot-be" in one_line_error(result)


# 5. limits must be finite; a template that fails is a config error


def test_infinite_limits_are_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    model = ["--model", f"scripted:{write_script(tmp_path / 'script.yaml', [SUBMIT])}"]
    for agent in ("builtin", "mini"):
        result = runner.invoke(app, ["agent", "run", str(DEMO_TASK), *model, "--agent", agent, "--wall-limit", "inf"])
        assert "finite" in one_line_error(result)
    result = runner.invoke(app, ["agent", "run", str(DEMO_TASK), *model, "--cost-limit", "nan"])
    assert "finite" in one_line_error(result)
    config = tmp_path / "agent.yaml"
    config.write_text("action_timeout_s: .inf\n")
    result = runner.invoke(app, ["agent", "run", str(DEMO_TASK), *model, "--config", str(config)])
    assert "action_timeout_s" in one_line_error(result)
    mini_config = tmp_path / "mini.yaml"
    mini_config.write_text("agent:\n  system_template: s\n  instance_template: i\n  wall_time_limit_seconds: .inf\n")
    result = runner.invoke(
        app, ["agent", "run", str(DEMO_TASK), *model, "--agent", "mini", "--config", str(mini_config)]
    )
    assert "wall_time_limit_seconds" in one_line_error(result)


def test_a_template_that_overflows_ends_the_run_as_a_config_error(tmp_path: Path, room: CleanRoom) -> None:
    model = ScriptedModel(write_script(tmp_path / "script.yaml", [SUBMIT]))
    for template in ("{% for i in range(10**9) %}x{% endfor %}", "{{ 1 / 0 }}", "{{ wall_limit_s | int(1) + [] }}"):
        config = load_config(None, system_template=template)
        outcome = builtin_agent(model, room, tmp_path, config).run()
        assert outcome.exit_status == "ConfigError" and "\n" not in outcome.message, outcome.message


# 6. scripted costs must be finite


def test_a_scripted_reply_with_an_infinite_cost_is_refused(tmp_path: Path) -> None:
    for cost in (".inf", ".nan"):
        script = tmp_path / "script.yaml"
        script.write_text(f"- content: hi\n  cost: {cost}\n")
        with pytest.raises(ModelError, match="reply 1: cost"):
            ScriptedModel(script)
        result = CliRunner().invoke(app, ["agent", "run", str(DEMO_TASK), "--model", f"scripted:{script}"])
        assert "finite" in one_line_error(result)


# 7. action_regex must give one command


def test_action_regex_needs_exactly_one_capture_group(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    for regex, problem in [
        (r"```(bash)\n(.*?)\n```", "not 2"),
        (r"```bash\n.*?\n```", "not 0"),
        ("(", "not a valid regex"),
    ]:
        config.write_text(yaml.safe_dump({"action_regex": regex}))
        with pytest.raises(AgentConfigError, match=problem) as caught:
            load_config(config)
        assert "\n" not in str(caught.value)
        result = CliRunner().invoke(
            app, ["agent", "run", str(DEMO_TASK), "--model", "scripted:x.yaml", "--config", str(config)]
        )
        one_line_error(result)


# 8. the trajectory keeps the ends of long outputs


def test_trajectory_keeps_head_and_tail_of_long_outputs(tmp_path: Path, room: CleanRoom) -> None:
    big = "printf 'HEAD'; head -c 1000000 /dev/zero | tr '\\0' x; printf 'TAIL'"
    model = ScriptedModel(write_script(tmp_path / "script.yaml", [bash(big), bash(big), bash(big), SUBMIT]))
    outcome = builtin_agent(model, room, tmp_path, load_config(None)).run()
    assert outcome.exit_status == "Submitted"
    trajectory = tmp_path / "trajectory.json"
    assert trajectory.stat().st_size < 4 * (STEP_OUTPUT_CHARS + 15000)  # the observations shown are 10,000 each
    steps = json.loads(trajectory.read_text())["steps"]
    for step in steps[:3]:
        output = step["output"]
        assert output.startswith("HEADx") and output.endswith("xTAIL")
        assert len(output) < STEP_OUTPUT_CHARS + 200
        assert f"[twinbench: {1000008 - STEP_OUTPUT_CHARS} characters cut here" in output
    assert steps[3]["output"].strip() == "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def test_disk_limit_sizes_the_room_and_is_checked(tmp_path: Path) -> None:
    """--disk-limit sizes the room's disk (agent.json records it); too small a limit is bad input, and more
    than the temporary directory has free is a one-line harness error before any model call."""
    script = write_script(
        tmp_path / "script.yaml", [bash("df -k /workspace | tail -1; echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")]
    )
    runner = CliRunner()
    tiny = runner.invoke(app, ["agent", "run", str(DEMO_TASK), "--model", f"scripted:{script}", "--disk-limit", "8"])
    assert tiny.exit_code == 2 and "disk_limit_mb" in tiny.output
    huge = runner.invoke(
        app,
        [
            "agent",
            "run",
            str(DEMO_TASK),
            "--model",
            f"scripted:{script}",
            "--disk-limit",
            str(1 << 30),
            "-o",
            str(tmp_path / "huge"),
        ],
    )
    assert huge.exit_code == 3 and "free, less than the room's disk limit" in huge.output, huge.output
    out = tmp_path / "sized"
    sized = runner.invoke(
        app, ["agent", "run", str(DEMO_TASK), "--model", f"scripted:{script}", "--disk-limit", "64", "-o", str(out)]
    )
    assert sized.exit_code == 0, sized.output
    record = read_record(out)
    assert record is not None and record.limits["disk_limit_mb"] == 64
    if os.geteuid() == 0:  # a loop-mounted filesystem of that size (a little less for ext4's own tables)
        size_kb = int(json.loads((out / "trajectory.json").read_text())["steps"][0]["output"].split()[1])
        assert 50 * 1024 < size_kb <= 64 * 1024
