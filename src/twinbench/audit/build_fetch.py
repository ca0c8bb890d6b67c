"""The `build-fetch` rule: compile.sh, or a file it runs, tries to download code or packages during the build."""

from __future__ import annotations

import re
import shlex
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from twinbench.audit.files import snippet
from twinbench.audit.models import Finding, Severity

RULE = "build-fetch"
ENTRY = "compile.sh"
MAX_FOLLOWED = 40
MAX_SCRIPT_BYTES = 1 << 20
COMMENT_PREFIXES = ("#", "//", "--")


@dataclass(frozen=True)
class _Fetcher:
    what: str
    pattern: re.Pattern[str]
    unless: re.Pattern[str] | None = None
    # only a fetch when the project has dependencies it does not ship (cargo build, go build)
    needs: str | None = None


def _fetcher(what: str, pattern: str, unless: str | None = None, needs: str | None = None) -> _Fetcher:
    return _Fetcher(what, re.compile(pattern), re.compile(unless) if unless else None, needs)


OFFLINE_CARGO = r"--offline|--frozen|CARGO_NET_OFFLINE=(?:true|1)"
OFFLINE_GO = r"-mod=vendor|GOFLAGS=\S*-mod=vendor|GOPROXY=off"
FETCHERS = (
    _fetcher("pip install", r"\b(?:pip[\d.]*|-m\s+pip)\s+install\b", unless=r"--no-index"),
    _fetcher("pip download", r"\b(?:pip[\d.]*|-m\s+pip)\s+download\b"),
    _fetcher("uv", r"\buv\s+(?:pip\s+install|sync|add|tool\s+install|run\s+--with)\b", unless=r"--offline"),
    _fetcher("poetry", r"\bpoetry\s+(?:install|add|update|lock)\b"),
    _fetcher("pipx", r"\bpipx\s+(?:install|run)\b"),
    _fetcher(
        "cargo install/fetch",
        r"\bcargo\s+(?:\+\S+\s+)?(?:install|fetch|update|vendor|generate-lockfile)\b",
        unless=OFFLINE_CARGO,
    ),
    _fetcher(
        "cargo build",
        r"\bcargo\s+(?:\+\S+\s+)?(?:build|b|run|r|test|t|check|c)\b",
        unless=OFFLINE_CARGO,
        needs="cargo",
    ),
    _fetcher("go get/install", r"\bgo\s+(?:get|install|mod\s+(?:download|tidy|vendor))\b", unless=OFFLINE_GO),
    _fetcher("go build", r"\bgo\s+(?:build|run|test)\b", unless=OFFLINE_GO, needs="go"),
    _fetcher(
        "npm/yarn/pnpm/bun install",
        r"\b(?:npm\s+(?:install|i|ci|add|update|exec)|npx|pnpm\s+(?:install|i|add|dlx)|bun\s+(?:install|add|x)|bunx)\b"
        r"|\byarn(?:\s+(?:install|add|dlx)\b|\s*$)",
        unless=r"--offline",
    ),
    _fetcher("curl", r"(?<![\w-])curl\b"),
    _fetcher("wget", r"(?<![\w-])wget\b"),
    _fetcher("aria2c", r"\baria2c\b"),
    _fetcher("git clone/fetch", r"\bgit\s+(?:-\S+\s+)*(?:clone|fetch|pull|submodule\s+update|ls-remote)\b"),
    _fetcher("svn/hg checkout", r"\b(?:svn\s+(?:checkout|co|export)|hg\s+clone)\b"),
    _fetcher("apt-get", r"\b(?:apt-get|apt|aptitude)\s+(?:-\S+\s+)*(?:install|update|source|download|build-dep)\b"),
    _fetcher("gem install", r"\bgem\s+install\b"),
    _fetcher("conda install", r"\b(?:conda|mamba|micromamba)\s+(?:install|create)\b"),
    _fetcher("opam/cabal/stack", r"\b(?:opam\s+install|cabal\s+(?:update|install)|stack\s+(?:build|install|setup))\b"),
    _fetcher("luarocks/nimble/cpanm", r"\b(?:luarocks\s+install|nimble\s+install|cpanm|cpan\s+\w)"),
    _fetcher("dotnet restore", r"\bdotnet\s+(?:restore|add\s+package)\b"),
    _fetcher("composer install", r"\bcomposer\s+(?:install|require|update)\b"),
    _fetcher("mvn/gradle", r"\b(?:mvn|gradle|gradlew)\b", unless=r"\s-o\b|--offline"),
    _fetcher("rustup", r"\brustup\s+(?:install|toolchain\s+install|target\s+add|component\s+add|update)\b"),
    _fetcher("HTTP from a build script", r"\burllib\.request\b|\burlopen\s*\(|\brequests\s*\.\s*(?:get|post)\s*\("),
    _fetcher("CMake download", r"\bFetchContent_(?:Declare|MakeAvailable|Populate)\b|\bExternalProject_Add\b"),
    _fetcher("CMake download", r"\bfile\s*\(\s*DOWNLOAD\b"),
)
INTERPRETERS = frozenset(
    {"source", ".", "bash", "sh", "dash", "zsh", "python", "python3", "perl", "ruby", "node", "make", "include"}
)


def build_fetch_findings(root: Path) -> list[Finding]:
    """Findings for each line of compile.sh (or of a file it runs) that would download something."""
    if not (root / ENTRY).is_file():
        return []
    findings: list[Finding] = []
    project = _Project(root)
    for relative in _build_files(root):
        text = _read(root / relative)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            finding = _line_finding(relative, number, line, project)
            if finding is not None:
                findings.append(finding)
    return findings


def _line_finding(relative: str, number: int, line: str, project: _Project) -> Finding | None:
    stripped = line.strip()
    if not stripped or stripped.startswith(COMMENT_PREFIXES):
        return None
    # list-form commands (["pip", "install", "x"]) read like shell once quotes, commas and brackets go
    flat = re.sub(r"[\"',\[\]()]", " ", stripped)
    for fetcher in FETCHERS:
        if not fetcher.pattern.search(flat) and not fetcher.pattern.search(stripped):
            continue
        if fetcher.unless is not None and (fetcher.unless.search(stripped) or project.offline_by(fetcher)):
            continue
        why = ""
        if fetcher.needs is not None:
            why = project.missing_dependencies(fetcher.needs)
            if not why:
                continue
        return Finding(
            rule=RULE,
            severity=Severity.warning,
            message=f"{relative}:{number} runs {fetcher.what} during the build{why} (the build has no network)",
            evidence=[f"{relative}:{number}: {snippet(stripped)}"],
            file=relative,
        )
    return None


class _Project:
    """What the submission ships for its language's package manager: manifests, lock files, vendored code."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.compile_text = _read(root / ENTRY) or ""

    def offline_by(self, fetcher: _Fetcher) -> bool:
        """Whether compile.sh or the project config switches the tool offline as a whole."""
        if fetcher.what.startswith("cargo"):
            if re.search(OFFLINE_CARGO, self.compile_text):
                return True
            for config in (self.root / ".cargo" / "config.toml", self.root / ".cargo" / "config"):
                text = _read(config) or ""
                if re.search(r"offline\s*=\s*true", text):
                    return True
        if fetcher.what.startswith("go"):
            return re.search(OFFLINE_GO, self.compile_text) is not None
        return False

    def missing_dependencies(self, tool: str) -> str:
        """' (to download X, Y)' when a cargo or go project needs dependencies it does not vendor, else ''."""
        if tool == "cargo":
            external = sorted(
                {name for manifest in self.root.rglob("Cargo.toml") for name in _cargo_external(manifest)}
            )
            vendored = (self.root / "vendor").is_dir() or "vendored-sources" in (
                _read(self.root / ".cargo" / "config.toml") or _read(self.root / ".cargo" / "config") or ""
            )
            if external and not vendored:
                return f" that must download crates ({_listed(external)}) with no vendor/ dir"
            return ""
        go_mod = _read(self.root / "go.mod")
        if go_mod is None or (self.root / "vendor" / "modules.txt").is_file():
            return ""
        required = re.findall(r"^\s*(?:require\s+)?([\w.-]+\.[\w.-]+/\S+)\s+v\S+", go_mod, flags=re.M)
        return f" that must download modules ({_listed(sorted(set(required)))}) with no vendor/ dir" if required else ""


def _listed(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _cargo_external(manifest: Path) -> list[str]:
    """Dependencies of a Cargo.toml that come from a registry or git rather than a path in the tree."""
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8", errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    tables: list[object] = [data.get(key) for key in ("dependencies", "build-dependencies", "dev-dependencies")]
    workspace = data.get("workspace")
    if isinstance(workspace, dict):
        tables.append(workspace.get("dependencies"))
    targets = data.get("target")
    if isinstance(targets, dict):
        for table in targets.values():
            if isinstance(table, dict):
                tables += [table.get(key) for key in ("dependencies", "build-dependencies", "dev-dependencies")]
    external: list[str] = []
    for table in tables:
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            local = isinstance(spec, dict) and ("path" in spec or spec.get("workspace") is True)
            if not local:
                external.append(str(name))
    return external


def _build_files(root: Path) -> list[str]:
    """compile.sh and, transitively, the scripts, makefiles and manifests it runs."""
    queue: deque[str] = deque([ENTRY])
    seen: list[str] = []
    while queue and len(seen) < MAX_FOLLOWED:
        relative = queue.popleft()
        if relative in seen:
            continue
        seen.append(relative)
        text = _read(root / relative)
        if text is None:
            continue
        base = PurePosixPath(relative).parent
        for candidate in _referenced(text, root, base):
            if candidate not in seen:
                queue.append(candidate)
    return seen


def _referenced(text: str, root: Path, base: PurePosixPath) -> list[str]:
    found: list[str] = []

    def add(name: str, directory: PurePosixPath = base) -> None:
        candidate = (directory / name).as_posix()
        path = (root / candidate).resolve()
        if path.is_relative_to(root.resolve()) and path.is_file():
            found.append(path.relative_to(root.resolve()).as_posix())

    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            words = shlex.split(stripped, comments=True)
        except ValueError:
            words = stripped.split()
        for position, word in enumerate(words):
            previous = words[position - 1] if position else ""
            runs_it = PurePosixPath(previous).name in INTERPRETERS or previous in ("-f", "--file", "--makefile")
            if runs_it or word.startswith("./") or (position == 0 and "/" in word):
                add(word)
        programs = {PurePosixPath(word).name for word in words}
        directory = base
        if "-C" in words and words.index("-C") + 1 < len(words):
            directory = base / words[words.index("-C") + 1]
        if "make" in programs:
            for name in ("GNUmakefile", "makefile", "Makefile"):
                add(name, directory)
        if "cmake" in programs:
            add("CMakeLists.txt")
        if "cargo" in programs:
            add("build.rs")
        if "meson" in programs:
            add("meson.build")
        if programs & {"npm", "yarn", "pnpm"}:
            add("package.json")
        if "setup.py" in words or re.search(r"\bpip[\d.]*\s+install\s+(?:-e\s+)?\.", stripped):
            add("setup.py")
    return found


def _read(path: Path) -> str | None:
    try:
        if not path.is_file() or path.stat().st_size > MAX_SCRIPT_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None
    return data.decode("utf-8", errors="replace")
