"""Code statistics of a source tree: lines of code per language, files, depth and functions (via lizard)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import lizard  # type: ignore[import-untyped]
from pydantic import BaseModel, Field

# generated, vendored or tool-owned trees: their lines are not what the author wrote
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".pc",
        ".cargo",
        ".venv",
        "venv",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        "__pycache__",
        "node_modules",
        "target",
        "build",
        "dist",
        "vendor",
    }
)
# beyond this a source file is generated (a parser table, an amalgamation); its lines are counted, not parsed
MAX_PARSED_BYTES = 2 << 20

# languages lizard parses (functions and comment-free line counts)
LIZARD_LANGUAGES = {
    ".c": "C",
    ".h": "C",
    ".cc": "C++",
    ".cpp": "C++",
    ".cxx": "C++",
    ".hh": "C++",
    ".hpp": "C++",
    ".hxx": "C++",
    ".rs": "Rust",
    ".go": "Go",
    ".py": "Python",
    ".js": "JavaScript",
    ".mjs": "JavaScript",
    ".cjs": "JavaScript",
    ".ts": "TypeScript",
    ".tsx": "TypeScript",
    ".java": "Java",
    ".kt": "Kotlin",
    ".scala": "Scala",
    ".swift": "Swift",
    ".rb": "Ruby",
    ".php": "PHP",
    ".lua": "Lua",
    ".pl": "Perl",
    ".pm": "Perl",
    ".cs": "C#",
    ".zig": "Zig",
    ".erl": "Erlang",
    ".f90": "Fortran",
    ".m": "Objective-C",
    ".r": "R",
}
# languages counted line by line: (language, line-comment prefixes)
LINE_COUNTED_LANGUAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    ".sh": ("Shell", ("#",)),
    ".bash": ("Shell", ("#",)),
    ".mk": ("Makefile", ("#",)),
    ".cmake": ("CMake", ("#",)),
    ".awk": ("Awk", ("#",)),
    ".hs": ("Haskell", ("--",)),
    ".ml": ("OCaml", ()),
    ".nim": ("Nim", ("#",)),
    ".ex": ("Elixir", ("#",)),
    ".exs": ("Elixir", ("#",)),
    ".jl": ("Julia", ("#",)),
    ".dart": ("Dart", ("//",)),
    ".cr": ("Crystal", ("#",)),
    ".tcl": ("Tcl", ("#",)),
}
NAMED_FILES = {
    "Makefile": ".mk",
    "makefile": ".mk",
    "GNUmakefile": ".mk",
    "CMakeLists.txt": ".cmake",
    "compile.sh": ".sh",
}
SHEBANG_INTERPRETERS = {
    "sh": ".sh",
    "bash": ".sh",
    "dash": ".sh",
    "zsh": ".sh",
    "python": ".py",
    "python3": ".py",
    "perl": ".pl",
    "ruby": ".rb",
    "node": ".js",
    "lua": ".lua",
}


class LanguageStats(BaseModel):
    """Lines of code, files and functions of one language."""

    files: int = 0
    code_lines: int = 0
    functions: int = 0


class CodeStats(BaseModel):
    """Size and shape of a source tree, comparable between a submission and the reference's sources."""

    root: str
    files: int = Field(description="source files counted")
    code_lines: int = Field(description="lines of code, blank and comment lines excluded")
    languages: dict[str, LanguageStats] = Field(default_factory=dict)
    max_depth: int = Field(description="directory depth of the deepest source file; 0 = top level")
    functions: int
    mean_function_lines: float = Field(description="mean lines of code per function")
    max_function_lines: int
    longest_function: str | None = Field(default=None, description="file:line name of the longest function")


def code_stats(root: Path, only: Iterable[Path] | None = None) -> CodeStats:
    """Count the source files under `root` (or just `only`, paths relative to it), skipping generated dirs."""
    root = Path(root)
    candidates = [root / path for path in only] if only is not None else list(_walk(root))
    languages: dict[str, LanguageStats] = {}
    function_lengths: list[int] = []
    longest: tuple[int, str] | None = None
    max_depth = 0
    counted = 0
    for path in sorted(candidates):
        suffix = _language_suffix(path)
        if suffix is None:
            continue
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        relative = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.as_posix()
        language, lines, functions = _measure(relative, suffix, text)
        stats = languages.setdefault(language, LanguageStats())
        stats.files += 1
        stats.code_lines += lines
        stats.functions += len(functions)
        for name, line, length in functions:
            function_lengths.append(length)
            if longest is None or length > longest[0]:
                longest = (length, f"{relative}:{line} {name}")
        counted += 1
        max_depth = max(max_depth, len(Path(relative).parts) - 1)
    return CodeStats(
        root=str(root),
        files=counted,
        code_lines=sum(stats.code_lines for stats in languages.values()),
        languages=dict(sorted(languages.items(), key=lambda item: -item[1].code_lines)),
        max_depth=max_depth,
        functions=len(function_lengths),
        mean_function_lines=round(sum(function_lengths) / len(function_lengths), 1) if function_lengths else 0.0,
        max_function_lines=max(function_lengths, default=0),
        longest_function=longest[1] if longest else None,
    )


def compare_stats(submission: CodeStats, reference: CodeStats | None) -> list[dict[str, Any]]:
    """Rows of a side-by-side table: metric, submission, reference and submission/reference ratio."""
    metrics: list[tuple[str, float, float | None]] = [
        ("lines of code", submission.code_lines, reference.code_lines if reference else None),
        ("source files", submission.files, reference.files if reference else None),
        ("functions", submission.functions, reference.functions if reference else None),
        (
            "mean function lines",
            submission.mean_function_lines,
            reference.mean_function_lines if reference else None,
        ),
        ("max function lines", submission.max_function_lines, reference.max_function_lines if reference else None),
        ("max directory depth", submission.max_depth, reference.max_depth if reference else None),
    ]
    languages = list(submission.languages)
    if reference:
        languages += [name for name in reference.languages if name not in submission.languages]
    for name in languages:
        mine = submission.languages.get(name)
        theirs = reference.languages.get(name) if reference else None
        metrics.append(
            (
                f"lines of {name}",
                mine.code_lines if mine else 0,
                (theirs.code_lines if theirs else 0) if reference else None,
            )
        )
    return [
        {
            "metric": metric,
            "submission": mine,
            "reference": theirs,
            "ratio": round(mine / theirs, 2) if theirs else None,
        }
        for metric, mine, theirs in metrics
    ]


def _walk(root: Path) -> Iterable[Path]:
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(name for name in dirs if name not in SKIPPED_DIRS)
        for name in files:
            path = Path(directory) / name
            if not path.is_symlink() and path.is_file():
                yield path


def _language_suffix(path: Path) -> str | None:
    if path.name in NAMED_FILES:
        return NAMED_FILES[path.name]
    suffix = path.suffix.lower()
    if suffix in LIZARD_LANGUAGES or suffix in LINE_COUNTED_LANGUAGES:
        return suffix
    if suffix:
        return None
    try:
        with path.open("rb") as handle:
            first_line = handle.readline(200)
    except OSError:
        return None
    if not first_line.startswith(b"#!"):
        return None
    words = first_line[2:].decode("utf-8", "replace").split()
    if not words:
        return None
    interpreter = Path(words[1] if Path(words[0]).name == "env" and len(words) > 1 else words[0]).name
    interpreter = interpreter.rstrip("0123456789.") or interpreter
    return SHEBANG_INTERPRETERS.get(interpreter)


def _measure(relative: str, suffix: str, text: str) -> tuple[str, int, list[tuple[str, int, int]]]:
    """(language, lines of code, [(function, start line, lines of code)]) of one file."""
    if suffix in LIZARD_LANGUAGES and len(text) <= MAX_PARSED_BYTES:
        try:
            # the file name only picks the language reader: scripts without a suffix get one
            analysis = lizard.analyze_file.analyze_source_code(
                f"{relative}{'' if relative.endswith(suffix) else suffix}", text
            )
        except Exception:  # lizard's readers choke on some inputs; counting lines is still meaningful
            analysis = None
        if analysis is not None:
            functions = [(str(item.name), int(item.start_line), int(item.nloc)) for item in analysis.function_list]
            return LIZARD_LANGUAGES[suffix], int(analysis.nloc), functions
    hash_comments = suffix in {".py", ".rb", ".pl", ".pm", ".r"}
    fallback = (LIZARD_LANGUAGES.get(suffix, "Other"), ("#",) if hash_comments else ("//", "/*", "*"))
    language, prefixes = LINE_COUNTED_LANGUAGES.get(suffix, fallback)
    lines = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith(prefixes):
            lines += 1
    return language, lines, []
