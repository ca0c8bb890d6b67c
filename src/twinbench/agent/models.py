"""Model adapters: any litellm provider string, and a scripted model that replays replies from YAML.

`model_for("scripted:PATH")` gives the scripted model; anything else goes to litellm, so every provider it
knows works (`anthropic/...`, `openai/...`, `ollama/...`), and `api_base` points it at an OpenAI-compatible
local server such as vLLM or SGLang.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, Field, ValidationError

from twinbench.formats import ModelReply, TokenUsage, first_error
from twinbench.protocols import Model

SCRIPTED_PREFIX = "scripted:"
# a key is required by the OpenAI client even when a local server ignores it
PLACEHOLDER_API_KEY = "twinbench-no-key"
_litellm_lock = threading.Lock()
# backoff between retries of a failed model call: the first wait, doubled each time up to the longest
RETRY_FIRST_WAIT_S = 4.0
RETRY_LONGEST_WAIT_S = 60.0
# a retry is made only when at least this much time would be left for it after the wait
MIN_CALL_S = 1.0
# HTTP statuses that may heal by themselves: timeout, conflict, rate limit; and every server error
RETRYABLE_STATUSES = frozenset({408, 409, 429})

_Result = TypeVar("_Result")


class ModelError(Exception):
    """The model could not answer (network, auth, an exhausted script); the message is one line."""


class ScriptedReply(BaseModel):
    """One reply of a scripted model, as written in its YAML file."""

    content: str
    # finite: an infinite cost would be written into agent.json as `Infinity`, which strict JSON rejects
    cost: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)


class ScriptedModel:
    """Replays a fixed list of replies, one per query, whatever the messages say; deterministic by design.

    The YAML file is either a list or a mapping with `responses:`; each item is the reply's text, or a
    mapping with `content` and optionally `cost`, `prompt_tokens` and `completion_tokens`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"{SCRIPTED_PREFIX}{path}"
        self.replies = load_script(path)
        self.position = 0

    def query(self, messages: list[dict[str, str]], timeout_s: float | None = None) -> ModelReply:
        """The next scripted reply (at once, whatever the timeout); ModelError once the script is used up."""
        if self.position >= len(self.replies):
            raise ModelError(f"the scripted model {self.path.name} has no reply left after {self.position}")
        reply = self.replies[self.position]
        self.position += 1
        return ModelReply(
            content=reply.content,
            cost_usd=reply.cost,
            tokens=TokenUsage(prompt=reply.prompt_tokens, completion=reply.completion_tokens),
            finish_reason="stop",
        )


def load_script(path: Path) -> list[ScriptedReply]:
    """Parse a scripted model's YAML file; a malformed file is a one-line ModelError."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ModelError(f"cannot read the scripted model {path}: {exc.strerror or exc}") from None
    except (yaml.YAMLError, ValueError, RecursionError) as exc:
        # ValueError: undecodable bytes, an impossible date, an integer too long to convert
        raise ModelError(f"{path}: not valid YAML ({yaml_problem(exc)})") from None
    if isinstance(data, dict):
        data = data.get("responses")
    if not isinstance(data, list) or not data:
        raise ModelError(f"{path}: expected a non-empty list of replies (or a mapping with 'responses:')")
    replies: list[ScriptedReply] = []
    for index, item in enumerate(data):
        try:
            replies.append(ScriptedReply(content=item) if isinstance(item, str) else ScriptedReply.model_validate(item))
        except ValidationError as exc:
            raise ModelError(f"{path}: reply {index + 1}: {first_error(exc, top='')}") from None
    return replies


class LitellmModel:
    """A model reached through litellm: cost from litellm's price table, tokens from the response's usage."""

    def __init__(
        self,
        name: str,
        *,
        api_base: str | None = None,
        retries: int = 3,
        timeout_s: float = 600.0,
        extra: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.api_base = api_base
        self.retries = retries
        self.timeout_s = timeout_s
        self.extra = dict(extra or {})

    def completion_kwargs(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The keyword arguments of one completion call.

        One attempt only: litellm's own retries (and the OpenAI client's, which num_retries also sets) would
        wait without regard to the run's wall limit, so `query` does the retrying.
        """
        timeout = self.timeout_s if timeout_s is None else timeout_s
        kwargs: dict[str, Any] = {**self.extra, "num_retries": 0, "timeout": timeout}
        if self.api_base:
            kwargs["api_base"] = self.api_base
            if self.name.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs.setdefault("api_key", PLACEHOLDER_API_KEY)
        return kwargs

    def query(self, messages: list[dict[str, str]], timeout_s: float | None = None) -> ModelReply:
        """One completion within `timeout_s` seconds, retries included; every failure is a one-line ModelError.

        The time counts from this call: loading litellm (seconds, the first time) and its first call's own
        lazy imports are inside it, and whatever is still running at the deadline is abandoned (finish_by).
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s

        def load_and_ask() -> tuple[Any, Any]:
            litellm = import_litellm()

            def attempt(timeout: float) -> Any:
                return litellm.completion(model=self.name, messages=messages, **self.completion_kwargs(timeout))

            response = call_with_retries(attempt, timeout_s=self.timeout_s, retries=self.retries, deadline=deadline)
            return litellm, response

        try:
            litellm, response = finish_by(deadline, load_and_ask)
        except Exception as exc:  # litellm raises many provider-specific types; all end the run the same way
            raise ModelError(_one_line(exc)) from None
        try:
            choice = response.choices[0]
            content = choice.message.content or ""
            finish_reason = getattr(choice, "finish_reason", None)
        except (AttributeError, IndexError, TypeError):
            raise ModelError(f"{self.name} returned a response without a message") from None
        usage = getattr(response, "usage", None)
        tokens = TokenUsage(
            prompt=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion=int(getattr(usage, "completion_tokens", 0) or 0),
        )
        cost, known = _cost_of(litellm, response, self.name)
        return ModelReply(content=content, cost_usd=cost, cost_known=known, tokens=tokens, finish_reason=finish_reason)


class DeadlineReached(Exception):
    """A model call was still running at the run's deadline and was abandoned."""


def finish_by(deadline: float | None, work: Callable[[], _Result]) -> _Result:
    """`work()`'s result, or DeadlineReached once `deadline` passes without one.

    The work runs on a daemon thread: a timeout given to an HTTP client bounds the request, not the imports
    and set-up around it (litellm's first call loads more of itself), so only waiting apart holds the time.
    What is abandoned ends by itself soon after (its requests have the same deadline) and is discarded.
    """
    if deadline is None:
        return work()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = work()
        except BaseException as exc:  # handed to the caller's thread, which raises it there
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="twinbench-model-call", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise DeadlineReached("the model did not answer before the run's wall limit")
    if "error" in outcome:
        raise outcome["error"]
    result: _Result = outcome["result"]
    return result


def call_with_retries(
    attempt: Callable[[float], _Result],
    *,
    timeout_s: float,
    retries: int,
    deadline: float | None,
) -> _Result:
    """`attempt(timeout)` until it succeeds, retrying failures that may heal, never past `deadline`.

    Each attempt gets `timeout_s` or the time left, whichever is less, and a retry is made only when its
    backoff still leaves it time: a run's wall limit bounds its model calls, retries and waits included.
    The last failure is raised as it is.
    """
    failures = 0
    while True:
        left = math.inf if deadline is None else deadline - time.monotonic()
        try:
            return attempt(max(0.001, min(timeout_s, left)))
        except Exception as exc:
            failures += 1
            wait = min(RETRY_LONGEST_WAIT_S, RETRY_FIRST_WAIT_S * 2 ** (failures - 1))
            left = math.inf if deadline is None else deadline - time.monotonic()
            if failures > retries or not is_retryable(exc) or wait + MIN_CALL_S > left:
                raise
            time.sleep(wait)


def is_retryable(exc: BaseException) -> bool:
    """A model failure that may heal by itself: a timeout, a lost connection, rate limiting, a server error.

    litellm gives each of its exceptions the HTTP status it stands for (a timeout is 408, a connection
    error 500); anything without one (a bug, a bad argument) fails the same way every time.
    """
    status = getattr(exc, "status_code", None)
    return isinstance(status, int) and (status in RETRYABLE_STATUSES or status >= 500)


def yaml_problem(exc: BaseException) -> str:
    """The first line of a YAML loading failure, for a one-line error."""
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def import_litellm() -> Any:
    """litellm, imported on first use (it is slow to import) and told to use its bundled price table, so
    that an offline machine does not wait on a download at import time."""
    with _litellm_lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
        return litellm


@functools.cache
def load_litellm() -> Any:
    """litellm imported and its completion path run once, offline (`mock_response`): its first real call
    otherwise imports and sets up more of itself (about a second cold), inside the run's time. Cached: two
    threads may both warm it up, which costs nothing but the time."""
    litellm = import_litellm()
    try:
        litellm.completion(
            model="openai/twinbench-warm-up", messages=[{"role": "user", "content": "-"}], mock_response="-"
        )
    except Exception:  # a warm-up only: a litellm that cannot mock still serves real calls
        pass
    return litellm


def _cost_of(litellm: Any, response: Any, name: str) -> tuple[float, bool]:
    """Cost in USD and whether litellm knew the model's price (a local server's model is usually unknown)."""
    try:
        cost = float(litellm.completion_cost(completion_response=response, model=name))
    except Exception:  # an unpriced model raises; its cost is unknown, not an error of the run
        return 0.0, False
    return cost, True


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def model_for(spec: str, *, api_base: str | None = None) -> Model:
    """The model a --model string names: `scripted:PATH`, or any litellm provider/model string.

    litellm is loaded here (load_litellm), before any run's clock starts: its import and its first call take
    seconds on a cold start, which belong to the harness, not to the agent's wall limit. (A LitellmModel
    made directly loads it on its first query, inside that query's time.)"""
    if spec.startswith(SCRIPTED_PREFIX):
        return ScriptedModel(Path(spec[len(SCRIPTED_PREFIX) :]).expanduser())
    if not spec.strip():
        raise ModelError("the model name is empty")
    litellm = load_litellm()
    try:
        # offline: litellm reads the provider off the name (or its price table), so a typo fails here,
        # before a clean room opens, instead of as a run that ends in ModelError after 0 steps
        litellm.get_llm_provider(model=spec, api_base=api_base)
    except Exception:
        raise ModelError(
            f"litellm knows no provider for model {spec!r}: name it as provider/model, "
            "e.g. anthropic/claude-sonnet-4-5, openai/gpt-4o, or openai/NAME with --api-base for a local server"
        ) from None
    return LitellmModel(spec, api_base=api_base)
