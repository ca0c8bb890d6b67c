"""Model adapters: any litellm provider string, and a scripted model that replays replies from YAML.

`model_for("scripted:PATH")` gives the scripted model; anything else goes to litellm, so every provider it
knows works (`anthropic/...`, `openai/...`, `ollama/...`), and `api_base` points it at an OpenAI-compatible
local server such as vLLM or SGLang.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from twinbench.formats import ModelReply, TokenUsage
from twinbench.protocols import Model

SCRIPTED_PREFIX = "scripted:"
# a key is required by the OpenAI client even when a local server ignores it
PLACEHOLDER_API_KEY = "twinbench-no-key"
_litellm_lock = threading.Lock()


class ModelError(Exception):
    """The model could not answer (network, auth, an exhausted script); the message is one line."""


class ScriptedReply(BaseModel):
    """One reply of a scripted model, as written in its YAML file."""

    content: str
    cost: float = Field(default=0.0, ge=0)
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

    def query(self, messages: list[dict[str, str]]) -> ModelReply:
        """The next scripted reply; ModelError once the script is used up."""
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
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not valid YAML ({first})") from None
    if isinstance(data, dict):
        data = data.get("responses")
    if not isinstance(data, list) or not data:
        raise ModelError(f"{path}: expected a non-empty list of replies (or a mapping with 'responses:')")
    replies: list[ScriptedReply] = []
    for index, item in enumerate(data):
        try:
            replies.append(ScriptedReply(content=item) if isinstance(item, str) else ScriptedReply.model_validate(item))
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(part) for part in error["loc"])
            raise ModelError(f"{path}: reply {index + 1}: {where + ': ' if where else ''}{error['msg']}") from None
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

    def completion_kwargs(self) -> dict[str, Any]:
        """The keyword arguments every completion call gets."""
        kwargs: dict[str, Any] = {"num_retries": self.retries, "timeout": self.timeout_s, **self.extra}
        if self.api_base:
            kwargs["api_base"] = self.api_base
            if self.name.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs.setdefault("api_key", PLACEHOLDER_API_KEY)
        return kwargs

    def query(self, messages: list[dict[str, str]]) -> ModelReply:
        """One completion; every failure becomes a one-line ModelError."""
        litellm = import_litellm()
        try:
            response = litellm.completion(model=self.name, messages=messages, **self.completion_kwargs())
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


def import_litellm() -> Any:
    """litellm, imported on first use (it is slow to import) and told to use its bundled price table, so
    that an offline machine does not wait on a download at import time."""
    with _litellm_lock:
        os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        import litellm

        litellm.suppress_debug_info = True
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
    """The model a --model string names: `scripted:PATH`, or any litellm provider/model string."""
    if spec.startswith(SCRIPTED_PREFIX):
        return ScriptedModel(Path(spec[len(SCRIPTED_PREFIX) :]).expanduser())
    if not spec.strip():
        raise ModelError("the model name is empty")
    return LitellmModel(spec, api_base=api_base)
