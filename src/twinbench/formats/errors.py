"""The one exception type for malformed input files, and the one way to say a validation error in one line."""

from __future__ import annotations

from pydantic import ValidationError


class FormatError(Exception):
    """A task, suite or result file that cannot be read; the message is one line for the user."""


def first_error(exc: ValidationError, top: str = "value") -> str:
    """pydantic's first error as `field.path: message` on one line; `top` names an error of the whole value.

    With `top=""` an error of the whole value is its message alone. Users fix one problem at a time, and a
    one-line message fits a terminal and a log; the message's own line breaks are folded into spaces.
    """
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or top
    message = " ".join(str(error["msg"]).split())
    return f"{where}: {message}" if where else message
