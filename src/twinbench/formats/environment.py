"""Environment maps as task and suite files give them: checked once here, so no sandbox sees a bad one."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator


def _check_environment(value: dict[str, str]) -> dict[str, str]:
    for key, item in value.items():
        if not key or "=" in key or "\0" in key:
            raise ValueError(f"environment variable name {key!r} is empty or holds '=' or NUL")
        if "\0" in item:
            raise ValueError(f"environment variable {key!r} holds a NUL byte")
    return value


Environment = Annotated[dict[str, str], AfterValidator(_check_environment)]
