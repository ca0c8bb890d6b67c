"""The root `twinbench` app: its --version and -h, and the conventions every command and group shares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import typer
from typer._click import Context

from twinbench.cli.output import say

HELP = "Rebuild real programs from their executable and docs; grade rebuilds in a bubblewrap sandbox."

EXIT_CODES_HELP = (
    "Exit codes, the same for every command: 0 done (for eval: graded, whatever the score); "
    "1 checked and failing (suite check's validity gate, a flagged audit); 2 bad input (a wrong path, "
    "a malformed file, an unknown option); 3 harness failure (no usable sandbox, a failed coverage build); "
    "130 interrupted. Defaults come from TWINBENCH_* variables and twinbench.toml: see `twinbench config show`."
)


class TwinbenchGroup(typer.core.TyperGroup):
    """The root command: the one error boundary, the user's settings as defaults, the shared conventions.

    Living in the command (not only in `main()`), the boundary also holds when a test invokes `app` with
    typer's CliRunner, so every way in exits with the same codes.
    """

    _polished = False

    def main(self, *args: Any, **extra: Any) -> Any:
        """Apply the conventions once, resolve the settings (a bad file exits 2), then run the command."""
        from twinbench.cli import config
        from twinbench.cli.conventions import polish

        if not self._polished:
            polish(self)
            self._polished = True
        try:
            settings = config.load()
        except Exception as exc:  # outside click's own main, so the process ends here
            code = self._report(exc)
            if code is None:
                raise
            sys.exit(code)
        extra.setdefault("default_map", config.default_map(settings))
        extra.setdefault("prog_name", "twinbench")
        return super().main(*args, **extra)

    def invoke(self, ctx: Context) -> Any:
        """Run the chosen command; a known exception becomes one line on stderr and its table's exit code."""
        try:
            return super().invoke(ctx)
        except (Exception, KeyboardInterrupt) as exc:
            code = self._report(exc)
            if code is None:
                raise  # a bug, not in the table: it keeps its traceback
            raise typer.Exit(code) from None

    @staticmethod
    def _report(exc: BaseException) -> int | None:
        """Print the one line of a known exception and return its exit code; None for anything else."""
        from twinbench.cli.errors import classify
        from twinbench.cli.output import error_line

        found = classify(exc)
        if found is None:
            return None
        code, message = found
        error_line(message)
        return int(code)


app = typer.Typer(
    name="twinbench",
    cls=TwinbenchGroup,
    help=HELP,
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def group(help: str, epilog: str) -> typer.Typer:
    """A command group with the shared conventions: help when called bare, an example in its epilog."""
    return typer.Typer(help=help, epilog=epilog, no_args_is_help=True, pretty_exceptions_enable=False)


def show_version(value: bool) -> None:
    """--version: the package version, and the git commit when run from a checkout."""
    if not value:
        return
    from twinbench import __version__

    commit = checkout_commit()
    say(f"twinbench {__version__}" + (f" (commit {commit})" if commit else ""))
    raise typer.Exit(0)


def checkout_commit() -> str | None:
    """The short commit of the checkout this package runs from, or None (an installed wheel, no git)."""
    root = Path(__file__).resolve().parents[3]
    if not (root / ".git").exists():
        return None
    try:
        found = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if found.returncode != 0:
        return None
    return found.stdout.strip() or None


@app.callback(context_settings={"help_option_names": ["-h", "--help"]})
def _root(
    version: bool = typer.Option(
        False, "--version", callback=show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Rebuild real programs from their executable and docs; grade rebuilds in a bubblewrap sandbox."""
