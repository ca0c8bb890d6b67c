"""The `wrapper` rule: the submission runs (or links) the reference or another installed implementation of it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from twinbench.audit.files import SubmissionFile, SubmissionLink, snippet
from twinbench.audit.models import Finding, Severity
from twinbench.audit.targets import MULTI_CALL, ReferenceTargets

RULE = "wrapper"
MAX_EVIDENCE = 8
# prose explains, it does not run anything
DOC_SUFFIXES = frozenset({".md", ".rst", ".txt", ".adoc", ".html", ".htm", ".org", ".tex", ".1", ".6", ".man"})
DOC_STEMS = ("readme", "license", "licence", "copying", "changelog", "changes", "notes", "authors", "news")
# build scripts run commands at build time, when the reference is hidden anyway; only what they write into the
# program (heredocs, echo/printf strings) runs at test time
BUILD_SCRIPTS = frozenset({"compile.sh", "build.sh", "configure", "Makefile", "makefile", "GNUmakefile"})
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox"})
SPAWN_API = re.compile(
    r"\b(?:subprocess|Popen|check_output|check_call|getoutput|getstatusoutput|system|popen|_?exec[lv]p?e?|execvpe"
    r"|execFile(?:Sync)?|execSync|spawn(?:Sync)?|posix_spawnp?|Command|ProcessBuilder|Runtime|child_process|which"
    r"|run|call|open3|capture[23]?|Process|cmd)\b"
)
COMMENT_PREFIXES = ("#", "//", "--", ";", "/*", "* ", "rem ", "REM ")
# where a library implementing the same tool is declared, and which import syntax each source file uses
MANIFESTS = ("Cargo.toml", "pyproject.toml", "package.json", "go.mod", "setup.cfg", "setup.py", "Pipfile")
SOURCE_KINDS = {".py": ".py", ".rs": ".rs", ".go": ".go", ".js": ".js", ".mjs": ".js", ".cjs": ".js", ".ts": ".js"}
SPAWN_SYMBOLS = re.compile(rb"\x00(?:execvp|execlp|execv|execve|execl|execle|execvpe|posix_spawnp?|system|popen)\x00")


@dataclass(frozen=True)
class _Patterns:
    absolute: re.Pattern[str]  # anywhere: for shell lines
    quoted_absolute: re.Pattern[str]  # in a string or an assignment: for every language; prose mentions are not
    multi_call: re.Pattern[str]
    quoted_multi_call: re.Pattern[str]
    command_position: re.Pattern[str]
    literal: re.Pattern[str]
    library: re.Pattern[str] | None
    imports: dict[str, re.Pattern[str]]  # by source kind; a group holds the library implementing the same tool
    binary_absolute: re.Pattern[bytes]
    binary_bare: re.Pattern[bytes]


def _patterns(targets: ReferenceTargets) -> _Patterns:
    names = "|".join(re.escape(name) for name in sorted(targets.names, key=len, reverse=True))
    applets = "|".join(re.escape(name) for name in sorted(targets.own_names, key=len, reverse=True))
    paths = "|".join(re.escape(path) for path in sorted(targets.own_paths, key=len, reverse=True))
    bin_dirs = r"(?:/usr)?(?:/local)?/(?:s?bin|games)/"
    where = rf"(?:{bin_dirs}(?:{names}){'|' + paths if paths else ''})(?![\w.+-])"
    absolute = rf"(?<![\w.-]){where}"
    quoted_absolute = rf"(?:[\"'`]|=\s*){where}"
    multi_call = rf"(?:{'|'.join(MULTI_CALL)}|coreutils|rust-coreutils)[\"',\s]+(?:{applets})\b"
    starters = r"exec|then|do|else|if|while|until|command|env|nohup|xargs|sudo|time|eval|nice|which|type|!"
    command_position = (
        rf"(?:^|[;&|({{`]|\$\(|(?:^|\s)(?:{starters})\s+(?:-\S+\s+)*)\s*(?:\w+=\S*\s+)*[\"']?"
        rf"(?:{bin_dirs})?(?:{names})[\"']?(?=\s|$|[;&|)`])"
    )
    literal = rf"(?:[\"'`](?:{bin_dirs})?(?:{names})(?=[\"'`\s]))"
    library = None
    if targets.library_stems:
        stems = "|".join(re.escape(stem) for stem in sorted(targets.library_stems))
        library = (
            rf"(?:[\"'][\w/.-]*\blib(?:{stems})\.so\b|(?<![\w-])-l(?:{stems})\b"
            rf"|link\s*\(\s*name\s*=\s*\"(?:{stems})\")"
        )
    name_bytes = names.encode()
    imports: dict[str, re.Pattern[str]] = {}
    if targets.library_ports:
        by_length = sorted(targets.library_ports, key=len, reverse=True)
        ports = "|".join(re.escape(port) for port in by_length)
        identifiers = "|".join(re.escape(port.replace("-", "_")) for port in by_length)
        sources = {
            ".py": rf"^\s*(?:import|from)\s+({identifiers})\b",
            ".rs": rf"^\s*(?:use|extern\s+crate)\s+({identifiers})\b",
            ".js": rf"\brequire\s*\(\s*[\"']({ports})[\"']|^\s*(?:import|export)\b.*\bfrom\s+[\"']({ports})[\"']",
            ".go": rf"^\s*(?:import\s+)?(?:\w+\s+)?\"({ports})(?:/[\w./-]*)?\"",
            "manifest": rf"^\s*(?:require\s+)?[\"']?({ports})[\"']?\s*(?:[:=<>~!;,\[]|$)",
            "any": rf"\b(?:pip[\d.]*\s+install|npm\s+(?:install|i)|cargo\s+add|go\s+get)\s+(?:\S+\s+)*?({ports})\b",
        }
        imports = {kind: re.compile(pattern) for kind, pattern in sources.items()}
    return _Patterns(
        absolute=re.compile(absolute),
        quoted_absolute=re.compile(quoted_absolute),
        multi_call=re.compile(rf"\b{multi_call}"),
        quoted_multi_call=re.compile(rf"[\"'`]{multi_call}"),
        command_position=re.compile(command_position),
        literal=re.compile(literal),
        library=re.compile(library) if library else None,
        imports=imports,
        binary_absolute=re.compile(absolute.encode()),
        binary_bare=re.compile(rb"(?<=\x00)(?:" + name_bytes + rb")(?:\x00| [\x20-\x7e]*\x00)"),
    )


class WrapperRule:
    """The `wrapper` rule for one task: patterns built once, then applied file by file."""

    def __init__(self, targets: ReferenceTargets, files: list[SubmissionFile]) -> None:
        self.targets = targets
        self.patterns = _patterns(targets)
        # `import figlet` of the submission's own figlet.py is not a library port
        self.own_modules = frozenset(
            part for file in files for part in (*PurePosixPath(file.label).parent.parts, PurePosixPath(file.label).stem)
        )

    def link_findings(self, links: list[SubmissionLink]) -> list[Finding]:
        """Findings for symbolic links that point at the reference or another implementation."""
        return [finding for link in links if (finding := _link_finding(link, self.targets)) is not None]

    def file_findings(self, file: SubmissionFile) -> list[Finding]:
        """A finding when a file runs, links or loads the reference or another implementation of the same tool."""
        evidence = _file_evidence(file, self.patterns, self.own_modules)
        if not evidence:
            return []
        named = _named(evidence, self.targets)
        return [
            Finding(
                rule=RULE,
                severity=Severity.critical,
                message=f"{file.label} runs, loads or copies {named} instead of implementing it",
                evidence=evidence[:MAX_EVIDENCE],
                file=file.label,
            )
        ]


def _named(evidence: list[str], targets: ReferenceTargets) -> str:
    joined = " ".join(evidence)
    for name in sorted(targets.names, key=len, reverse=True):
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", joined):
            own = name in targets.own_names
            return f"the reference ({name})" if own else f"{name}, another implementation of {targets.command}"
    if targets.library_stems and any(f"lib{stem}" in joined or f"-l{stem}" in joined for stem in targets.library_stems):
        return f"the reference's library (lib{sorted(targets.library_stems)[0]})"
    return f"the reference ({targets.command})"


def _link_finding(link: SubmissionLink, targets: ReferenceTargets) -> Finding | None:
    target = PurePosixPath(link.target)
    if not target.is_absolute():
        return None
    try:
        resolved = str(Path(link.target).resolve())
    except (OSError, RuntimeError):
        resolved = link.target
    if link.target in targets.own_paths or resolved in targets.own_paths or target.name in targets.names:
        return Finding(
            rule=RULE,
            severity=Severity.critical,
            message=f"{link.label} is a symbolic link to {link.target}",
            evidence=[f"{link.label} -> {link.target}" + (f" ({resolved})" if resolved != link.target else "")],
            file=link.label,
        )
    return None


def _file_evidence(file: SubmissionFile, patterns: _Patterns, own_modules: frozenset[str]) -> list[str]:
    if file.is_text:
        if _is_doc(file.label):
            return []
        return _text_evidence(file, patterns, own_modules)
    return _binary_evidence(file, patterns)


def _is_doc(label: str) -> bool:
    path = PurePosixPath(label)
    if path.name.lower().startswith("requirements"):
        return False  # requirements.txt declares what the program imports
    return path.suffix.lower() in DOC_SUFFIXES or path.name.lower().startswith(DOC_STEMS)


def _text_evidence(file: SubmissionFile, patterns: _Patterns, own_modules: frozenset[str]) -> list[str]:
    text = file.text()
    lines = text.splitlines()
    name = PurePosixPath(file.label).name
    build_script = name in BUILD_SCRIPTS or PurePosixPath(file.label).suffix == ".mk"
    shell = _is_shell(name, lines)
    import_kinds = _import_kinds(file.label, lines)
    evidence: list[str] = []

    def add(number: int, line: str) -> None:
        entry = f"{file.label}:{number}: {snippet(line)}"
        if entry not in evidence:
            evidence.append(entry)

    if lines and lines[0].startswith("#!"):
        interpreter = _shebang_program(lines[0])
        if interpreter and patterns.literal.search(f'"{interpreter}"'):
            add(1, lines[0])
    recent_spawn = -10
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(COMMENT_PREFIXES):
            continue
        if SPAWN_API.search(line):
            recent_spawn = number
        runtime_shell = shell and not build_script
        if (
            patterns.quoted_absolute.search(line)
            or (build_script and patterns.absolute.search(line))
            or patterns.quoted_multi_call.search(line)
            or (patterns.library is not None and patterns.library.search(line))
            or (runtime_shell and _runs_in_shell(stripped, patterns))
            or (number - recent_spawn <= 3 and patterns.literal.search(line))
            or ("`" in line and _backtick_runs(line, patterns))
            or _imports_port(line, patterns, import_kinds, own_modules)
        ):
            add(number, line)
    if build_script:
        for number, line in _generated_lines(text):
            if _runs_in_shell(line.strip(), patterns):
                add(number, line)
    return evidence


def _import_kinds(label: str, lines: list[str]) -> list[str]:
    path = PurePosixPath(label)
    kinds = ["any"]
    if path.name in MANIFESTS or path.name.startswith("requirements"):
        kinds.append("manifest")
    kind = SOURCE_KINDS.get(path.suffix) or _shebang_suffix(lines)
    if kind:
        kinds.append(kind)
    return kinds


def _shebang_suffix(lines: list[str]) -> str:
    program = _shebang_program(lines[0]) if lines and lines[0].startswith("#!") else None
    if program and program.startswith("python"):
        return ".py"
    return ".js" if program == "node" else ""


def _imports_port(line: str, patterns: _Patterns, kinds: list[str], own_modules: frozenset[str]) -> bool:
    for kind in kinds:
        pattern = patterns.imports.get(kind)
        match = pattern.search(line) if pattern is not None else None
        if match is None:
            continue
        module = next(group for group in match.groups() if group)
        # `import figlet` of the submission's own figlet.py is not a library
        if module not in own_modules and module.replace("_", "-") not in own_modules:
            return True
    return False


def _runs_in_shell(line: str, patterns: _Patterns) -> bool:
    return bool(
        patterns.command_position.search(line) or patterns.absolute.search(line) or patterns.multi_call.search(line)
    )


def _backtick_runs(line: str, patterns: _Patterns) -> bool:
    return any(patterns.command_position.search(part) for part in re.findall(r"`([^`]*)`", line))


def _is_shell(name: str, lines: list[str]) -> bool:
    if name.endswith((".sh", ".bash")):
        return True
    if lines and lines[0].startswith("#!"):
        return _shebang_program(lines[0]) in SHELLS
    return False


def _shebang_program(line: str) -> str | None:
    words = line[2:].split()
    if not words:
        return None
    program = PurePosixPath(words[0]).name
    if program == "env":
        rest = [word for word in words[1:] if not word.startswith("-")]
        return PurePosixPath(rest[0]).name if rest else None
    return program


def _generated_lines(text: str) -> list[tuple[int, str]]:
    """Lines a build script writes into files: heredoc bodies and echo/printf strings, with their line numbers."""
    found: list[tuple[int, str]] = []
    lines = text.splitlines()
    terminator: str | None = None
    for number, line in enumerate(lines, start=1):
        if terminator is not None:
            if line.strip() == terminator:
                terminator = None
            else:
                found.append((number, line))
            continue
        heredoc = re.search(r"<<-?\s*(['\"]?)([A-Za-z_][\w]*)\1", line)
        if heredoc:
            terminator = heredoc.group(2)
        for match in re.finditer(r"\b(?:echo|printf)\s+(?:-\w+\s+)*(['\"])(.*?)(?<!\\)\1", line):
            for part in match.group(2).replace("\\n", "\n").splitlines():
                found.append((number, part))
    return found


def _binary_evidence(file: SubmissionFile, patterns: _Patterns) -> list[str]:
    data = file.data()
    evidence = [
        f"{file.label}:{match.start():#x}: {_printable_around(data, match.start(), match.end())}"
        for match in patterns.binary_absolute.finditer(data)
    ][:MAX_EVIDENCE]
    executable = file.is_elf and (os.access(file.path, os.X_OK) or PurePosixPath(file.label).name == "executable")
    if executable and SPAWN_SYMBOLS.search(data):
        evidence += [
            f"{file.label}:{match.start():#x}: {_printable_around(data, match.start(), match.end())} (with exec/system)"
            for match in patterns.binary_bare.finditer(data)
        ][:MAX_EVIDENCE]
    return evidence


def _printable_around(data: bytes, start: int, end: int) -> str:
    left = start
    while left > 0 and start - left < 80 and 0x20 <= data[left - 1] < 0x7F:
        left -= 1
    right = end
    while right < len(data) and right - end < 80 and 0x20 <= data[right] < 0x7F:
        right += 1
    return repr(data[left:right].decode("ascii", "replace"))
