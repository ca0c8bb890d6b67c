"""The `prebuilt-executable` rule: the submission ships binaries instead of building them from source."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from twinbench.audit.files import SubmissionFile, SubmissionLink, snippet
from twinbench.audit.models import Finding, Severity

RULE = "prebuilt-executable"
OBJECT_SUFFIXES = frozenset({".o", ".obj", ".so", ".a", ".pyc", ".pyo", ".class", ".jar", ".wasm", ".exe", ".dll"})
# interpreter caches of shipped sources, not binaries someone brought along
CACHE_DIRS = frozenset({"__pycache__"})
MAX_LISTED = 20


def prebuilt_findings(files: list[SubmissionFile], links: list[SubmissionLink]) -> list[Finding]:
    """A critical finding for a shipped ./executable, a warning listing other shipped binaries and objects."""
    findings: list[Finding] = []
    source_files = [file for file in files if not file.built]
    for file in source_files:
        if file.label == "executable":
            findings.append(
                Finding(
                    rule=RULE,
                    severity=Severity.critical,
                    message="the submission ships ./executable; compile.sh is meant to build it from source",
                    evidence=[f"executable: {_describe(file)}"],
                    file=file.label,
                )
            )
    for link in links:
        if link.label == "executable":
            findings.append(
                Finding(
                    rule=RULE,
                    severity=Severity.critical,
                    message="the submission ships ./executable (a symbolic link); compile.sh is meant to build it",
                    evidence=[f"executable -> {link.target}"],
                    file=link.label,
                )
            )
    shipped = [
        file
        for file in source_files
        if file.label != "executable"
        and not CACHE_DIRS.intersection(PurePosixPath(file.label).parts)
        and (file.is_elf or PurePosixPath(file.label).suffix.lower() in OBJECT_SUFFIXES)
    ]
    if shipped:
        listed = ", ".join(file.label for file in shipped[:3]) + (" ..." if len(shipped) > 3 else "")
        findings.append(
            Finding(
                rule=RULE,
                severity=Severity.warning,
                message=f"the submission ships {len(shipped)} compiled file(s) instead of sources: {listed}",
                evidence=[f"{file.label}: {_describe(file)}" for file in shipped[:MAX_LISTED]],
                file=shipped[0].label,
            )
        )
    return findings


def _describe(file: SubmissionFile) -> str:
    data = file.data()
    digest = hashlib.sha256(data).hexdigest()[:16]
    if file.is_elf:
        kind = {1: "ELF relocatable object", 2: "ELF executable", 3: "ELF shared object or PIE executable"}.get(
            int.from_bytes(data[16:18], "little" if data[5:6] == b"\x01" else "big"), "ELF file"
        )
    elif data.startswith(b"#!"):
        first_line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
        kind = f"script {snippet(first_line, 60)}"
    else:
        kind = "text" if file.is_text else "binary data"
    return f"{kind}, {file.size} bytes, sha256 {digest}..."
