"""What the CLI prints: plain result lines on stdout, warnings and errors on stderr, and one plural rule."""

from __future__ import annotations

from rich.console import Console

console = Console(stderr=True)
out = Console()


def say(text: str) -> None:
    """Print plain text: no rich markup (test groups look like [tags]) and no wrapping of long lines."""
    out.print(text, markup=False, highlight=False, soft_wrap=True)


def warn(text: str) -> None:
    """A warning on stderr, in yellow on a terminal."""
    console.print(text, markup=False, highlight=False, soft_wrap=True, style="yellow")


def alarm(text: str) -> None:
    """A result the user must not miss (a failed validity gate), on stderr in bold red."""
    console.print(text, markup=False, highlight=False, soft_wrap=True, style="bold red")


def error_line(message: str) -> None:
    """The one line an error gets: `error: ...` on stderr."""
    alarm("error: " + " ".join(message.split()))


def plural(count: int, noun: str, many: str | None = None) -> str:
    """`1 task`, `2 tasks`, `0 findings`; `many` for an irregular plural (`1 entry`, `2 entries`)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
