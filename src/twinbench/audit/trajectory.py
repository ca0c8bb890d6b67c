"""`trajectory-*` rules: what an agent ran while it built the submission (disassemblers, package caches, dumps)."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from twinbench.audit.files import snippet
from twinbench.audit.models import Finding, Severity
from twinbench.audit.targets import ReferenceTargets

MAX_EVIDENCE = 10
MAX_TRAJECTORY_BYTES = 512 << 20
COMMAND_KEYS = frozenset({"command", "cmd", "action", "bash", "shell", "script", "commands", "actions", "code"})
# what the environment answered: an `ls` listing or a man page there is not something the agent ran
OUTPUT_KEYS = frozenset({"observation", "output", "stdout", "stderr", "result", "returncode", "exception_info"})
AGENT_ROLES = frozenset({"assistant", "model", "ai", "agent"})
FENCED = re.compile(r"```[ \t]*(?:bash|sh|shell|console|zsh|mswea_bash_command)?[ \t]*\n(.*?)```", re.S)
TAGGED = re.compile(r"<(bash|command|cmd|execute|action)>(.*?)</\1>", re.S)

DISASSEMBLERS = frozenset(
    {
        "objdump",
        "gdb",
        "gdb-multiarch",
        "r2",
        "radare2",
        "rizin",
        "rz-bin",
        "rabin2",
        "rasm2",
        "cutter",
        "ghidra",
        "ghidrarun",
        "analyzeheadless",
        "retdec-decompiler",
        "ltrace",
        "strace",
        "gcore",
        "ndisasm",
        "llvm-objdump",
        "binwalk",
        "angr",
    }
)
# tools that only read raw bytes: on the reference (or ProgramBench's execute-only ./executable) they dump it
BYTE_VIEWERS = frozenset({"strings", "xxd", "hexdump", "hd", "readelf", "nm", "llvm-readelf", "llvm-nm"})
BYTE_COPIERS = frozenset({"od", "base64", "base32", "basenc", "dd", "uuencode"})
READERS = frozenset(
    {"cat", "cp", "head", "tail", "less", "more", "tar", "zip", "gzip", "bzip2", "xz", "zstd", "rsync", "install"}
    | {"scp", "nc", "tee", "split", "chmod", "chown", "mv", "ln", "vim", "vi", "nano", "emacs", "sed", "awk"}
)
SCRIPTING = re.compile(r"^(?:python[\d.]*|perl|ruby|node|php|lua[\d.]*)$")
# looking at the reference's metadata or running it is what the task allows
BENIGN_WITH_REFERENCE = frozenset(
    {"ls", "file", "which", "stat", "ldd", "type", "command", "readlink", "realpath", "test", "[", "[[", "echo"}
    | {"printf", "dpkg", "dpkg-query", "man", "whatis", "apropos", "md5sum", "sha1sum", "sha256sum", "cksum", "wc"}
    | {"du", "cd", "id", "getfacl", "namei"}
)
WRAPPERS = frozenset(
    {"sudo", "env", "nohup", "nice", "exec", "command", "time", "timeout", "xargs", "stdbuf", "builtin", "setsid"}
)
PROC_DUMP = re.compile(r"/proc/(?:\d+|self|\$\w+|\$\{\w+\}|\*|\$\([^)]*\))/(?:exe|mem)\b")
PRELOAD = re.compile(r"\bLD_(?:PRELOAD|AUDIT)\b")
SEPARATORS = re.compile(r"\|\||&&|(?<![<>])&(?!>)|[;|\n`]|\$\(|\)")
NETWORK = re.compile(r"\b(?:git\s+clone|curl|wget)\b[^\n|;&]*(?:https?|ftp|git)://")


@dataclass
class _Command:
    where: str
    text: str


@dataclass
class _Hits:
    """Evidence per (rule, tool), in the order found."""

    found: dict[tuple[str, str], list[str]] = field(default_factory=dict)

    def add(self, rule: str, tool: str, command: _Command) -> None:
        entries = self.found.setdefault((rule, tool), [])
        entry = f"{command.where}: {snippet(command.text, 200)}"
        if entry not in entries:
            entries.append(entry)


def trajectory_findings(trajectory: Path, targets: ReferenceTargets) -> list[Finding]:
    """Findings about the commands an agent ran, read leniently from a trajectory JSON (or JSON lines) file."""
    document = _load(trajectory)
    commands: list[_Command] | None = None
    if document is not None:
        try:
            commands = _unique(_commands(document, "$"))
        except RecursionError:  # tool-call arguments are model output, and can nest without end
            commands = None
    if commands is None:
        return [
            Finding(
                rule="trajectory-unreadable",
                severity=Severity.info,
                message=f"{trajectory.name} is not a JSON or JSON-lines trajectory; it was not audited",
                evidence=[str(trajectory)],
                file=None,
            )
        ]
    matcher = _ReferenceMatcher(targets)
    hits = _Hits()
    for command in commands:
        _check(command, command.text, matcher, hits, depth=0)
    findings = [_finding(rule, tool, evidence, targets) for (rule, tool), evidence in hits.found.items()]
    findings.append(
        Finding(
            rule="trajectory-commands",
            severity=Severity.info,
            message=f"{len(commands)} shell commands read from {trajectory.name}",
            evidence=[],
            file=None,
        )
    )
    return findings


def _load(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_TRAJECTORY_BYTES:
            return None
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        pass
    records = []
    for line in text.splitlines():
        if line.strip():
            try:
                records.append(json.loads(line))
            except (json.JSONDecodeError, RecursionError):
                return None
    return records or None


def _commands(node: Any, where: str, agent_text: bool = False) -> Iterator[_Command]:
    """Every shell command string in a trajectory, whatever its layout, with a JSON path saying where it was."""
    if isinstance(node, dict):
        role = str(node.get("role", "")).lower()
        for key, value in node.items():
            lowered = str(key).lower()
            path = f"{where}.{key}"
            if lowered in OUTPUT_KEYS:
                continue
            if lowered in ("content", "text", "thought", "response") and isinstance(value, str):
                if role in AGENT_ROLES or agent_text:
                    yield from _from_agent_text(value, path)
                continue
            if lowered in ("content", "parts") and isinstance(value, list):
                yield from _commands(value, path, agent_text or role in AGENT_ROLES)
                continue
            if lowered == "arguments" and isinstance(value, str):
                try:
                    arguments = json.loads(value)
                except (json.JSONDecodeError, RecursionError):
                    yield _Command(path, value)
                else:
                    yield from _commands(arguments, path, agent_text)
                continue
            if lowered in COMMAND_KEYS and isinstance(value, str):
                yield from _from_command_value(value, path)
                continue
            if lowered in COMMAND_KEYS and isinstance(value, list):
                for number, item in enumerate(value):
                    if isinstance(item, str):
                        yield from _from_command_value(item, f"{path}[{number}]")
                    else:
                        yield from _commands(item, f"{path}[{number}]", agent_text)
                continue
            yield from _commands(value, path, agent_text)
    elif isinstance(node, list):
        for number, item in enumerate(node):
            yield from _commands(item, f"{where}[{number}]", agent_text)
    elif isinstance(node, str) and agent_text:
        yield from _from_agent_text(node, where)


def _from_command_value(value: str, where: str) -> Iterator[_Command]:
    blocks = list(_from_agent_text(value, where)) if "```" in value or "</" in value else []
    yield from blocks or [_Command(where, value)]


def _from_agent_text(text: str, where: str) -> Iterator[_Command]:
    for match in FENCED.finditer(text):
        yield _Command(where, match.group(1).strip())
    for match in TAGGED.finditer(text):
        yield _Command(where, match.group(2).strip())


def _unique(commands: Iterator[_Command]) -> list[_Command]:
    seen: set[str] = set()
    unique: list[_Command] = []
    for command in commands:
        if command.text and command.text not in seen:
            seen.add(command.text)
            unique.append(_Command(command.where.removeprefix("$."), command.text))
    return unique


class _ReferenceMatcher:
    """Recognizes the reference in a command's arguments: its paths, its libraries, `$(which NAME)`."""

    def __init__(self, targets: ReferenceTargets) -> None:
        self.targets = targets
        paths = set(targets.own_paths)
        for name in targets.own_names:
            paths.update({f"/usr/bin/{name}", f"/bin/{name}", f"/usr/games/{name}", f"/usr/local/bin/{name}"})
        self.paths = frozenset(paths)
        self.basenames = frozenset(
            PurePosixPath(path).name for path in targets.own_paths if PurePosixPath(path).name != targets.command
        )
        names = "|".join(re.escape(name) for name in sorted(targets.own_names, key=len, reverse=True))
        self.lookup = re.compile(
            rf"(?:\$\(\s*(?:which|command\s+-v|type\s+-p)\s+(?:{names})\s*\)|`\s*(?:which|command\s+-v)\s+(?:{names})\s*`)"
        )
        self.resolve = re.compile(r"\$\(\s*(?:readlink\s+-f|realpath)\s+([^()]*)\)")
        self.package_cache = _package_cache_patterns(targets)

    def normalize(self, text: str) -> str:
        """The command with `$(which NAME)` and `$(readlink -f X)` replaced by the paths they stand for."""
        text = self.lookup.sub(f"/usr/bin/{self.targets.command}", text)
        return self.resolve.sub(lambda match: match.group(1).strip(), text)

    def names_reference(self, word: str) -> bool:
        """Whether one argument is the reference binary or one of its libraries."""
        word = word.strip("\"'")
        return word in self.paths or PurePosixPath(word).name in self.basenames

    def mentions_reference(self, text: str) -> bool:
        """Whether the reference's paths occur anywhere in a piece of code (a python -c or heredoc)."""
        return any(re.search(rf"{re.escape(path)}(?![\w.-])", text) for path in self.paths)


def _check(command: _Command, text: str, matcher: _ReferenceMatcher, hits: _Hits, depth: int) -> None:
    text = matcher.normalize(text)
    if PROC_DUMP.search(text):
        hits.add("trajectory-read-reference", "/proc/PID/exe or mem", command)
    if PRELOAD.search(text):
        hits.add("trajectory-read-reference", "LD_PRELOAD", command)
    if NETWORK.search(text):
        hits.add("trajectory-network", "download", command)
    for pattern, tool in matcher.package_cache:
        if pattern.search(text):
            hits.add("trajectory-package-cache", tool, command)
    for segment in SEPARATORS.split(text):
        words = _without_prefixes(_words(segment))
        if not words:
            continue
        program = PurePosixPath(words[0]).name.lower()
        arguments = words[1:]
        if program in ("bash", "sh", "dash", "zsh") and "-c" in arguments and depth < 3:
            inner = arguments[arguments.index("-c") + 1 :]
            if inner:
                _check(command, " ".join(inner), matcher, hits, depth + 1)
            continue
        rule = _rule_for(program, words, segment, matcher)
        if rule is not None:
            hits.add(rule, program, command)
    # a heredoc or multi-line script that opens the reference's file, whatever runs it
    if "\n" in text and re.search(r"\bopen\s*\(|\bread\s*\(|File\.", text) and matcher.mentions_reference(text):
        hits.add("trajectory-read-reference", "a script", command)


def _rule_for(program: str, words: list[str], segment: str, matcher: _ReferenceMatcher) -> str | None:
    """Which trajectory rule one simple command breaks, if any."""
    arguments = words[1:]
    on_reference = any(matcher.names_reference(word) for word in arguments)
    on_executable = any(PurePosixPath(word.strip("\"'")).name == "executable" for word in arguments)
    scripting = SCRIPTING.match(program) is not None
    if program in DISASSEMBLERS or (program in BYTE_VIEWERS and (on_reference or on_executable)):
        return "trajectory-decompiler"
    if program in BYTE_COPIERS and (on_reference or on_executable):
        return "trajectory-read-reference"
    if (program in READERS or scripting) and on_reference:
        return "trajectory-read-reference"
    if scripting and matcher.mentions_reference(segment):
        return "trajectory-read-reference"
    runs_reference = program in matcher.targets.names or matcher.names_reference(words[0])
    if on_reference and program not in BENIGN_WITH_REFERENCE and not runs_reference:
        # an unknown tool handed the reference's file: a dump script, chmod +r, a copy by another name
        return "trajectory-read-reference"
    return None


def _without_prefixes(words: list[str]) -> list[str]:
    """The command proper: without `VAR=x`, `sudo -u x`, `timeout 10`, `env -i` and the like in front."""
    while words:
        if re.fullmatch(r"\w+=\S*", words[0]):
            words = words[1:]
        elif PurePosixPath(words[0]).name in WRAPPERS:
            words = words[1:]
            while words and (words[0].startswith("-") or re.fullmatch(r"[\d.]+[smhd]?", words[0])):
                words = words[1:]
        else:
            break
    return words


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=False)
    except ValueError:
        # an unbalanced quote, usually from splitting `bash -c "a; b"` at the `;`
        return segment.replace('"', " ").replace("'", " ").split()


def _package_cache_patterns(targets: ReferenceTargets) -> list[tuple[re.Pattern[str], str]]:
    patterns = [
        (re.compile(r"/var/cache/apt\b"), "/var/cache/apt"),
        (re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:source|download)\b"), "apt-get source/download"),
        (re.compile(r"(?<![\w-])dget\b"), "dget"),
        (re.compile(r"(?:^|\s)/usr/src/\S"), "/usr/src"),
        (re.compile(r"\bpip[\d.]*\s+download\b"), "pip download"),
        (re.compile(r"\.cargo/registry\b"), "~/.cargo/registry"),
        (re.compile(r"\bgo/pkg/mod\b"), "Go module cache"),
        (re.compile(r"\.npm/_cacache\b"), "npm cache"),
        (re.compile(r"\b(?:sources|snapshot)\.debian\.org\b|\bdebsources\b"), "Debian sources site"),
    ]
    if targets.packages:
        packages = "|".join(re.escape(package) for package in sorted(targets.packages))
        # the package's README and examples are the task's docs; its sources (some packages ship them) are not
        source_file = r"\S*\.(?:c|h|cc|cpp|rs|go|py|y|l|diff|patch|tar(?:\.\w+)?|tgz)(?:\.gz)?\b"
        patterns.append(
            (re.compile(rf"/usr/share/doc/(?:{packages})/{source_file}"), "sources in /usr/share/doc of the package")
        )
    return patterns


def _finding(rule: str, tool: str, evidence: list[str], targets: ReferenceTargets) -> Finding:
    count = f"in {len(evidence)} command{'s' if len(evidence) > 1 else ''}"
    if rule == "trajectory-decompiler" and tool in BYTE_VIEWERS:
        severity = Severity.critical
        message = f"the agent dumped a binary's contents with {tool} ({count}): the reference's strings and code"
    elif rule == "trajectory-decompiler":
        severity = Severity.critical
        message = f"the agent ran {tool} ({count}): disassembling or tracing a binary reveals the reference's code"
    elif rule == "trajectory-read-reference":
        severity = Severity.critical
        message = f"the agent read the reference's bytes with {tool} ({count})"
    elif rule == "trajectory-package-cache":
        severity = Severity.warning
        message = f"the agent looked for {targets.command}'s packaged files or sources via {tool} ({count})"
    else:
        severity = Severity.warning
        message = f"the agent downloaded code or data ({count}); the upstream source may have been fetched"
    return Finding(rule=rule, severity=severity, message=message, evidence=evidence[:MAX_EVIDENCE], file=None)
