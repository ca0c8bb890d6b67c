"""The hidden test suite: one TestCase per line of tests/suite.jsonl."""

from __future__ import annotations

import hashlib
import json
import posixpath
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinbench.formats.bytesfield import decode_b64_fields, decode_b64_mapping, encode_bytes, encode_mapping
from twinbench.formats.environment import Environment
from twinbench.formats.errors import FormatError, first_error


class CompareMode(StrEnum):
    """How an observed stream is compared with the expected one."""

    exact = "exact"
    rstrip_lines = "rstrip"  # trailing whitespace on each line and trailing blank lines ignored
    whitespace = "whitespace"  # any run of whitespace equals any other
    sorted_lines = "sorted_lines"  # same lines in any order
    json = "json"  # equal after parsing as a sequence of JSON values
    ignore = "ignore"


class Comparison(BaseModel):
    """Comparison mode per stream; files share one mode."""

    model_config = ConfigDict(extra="forbid")

    stdout: CompareMode = CompareMode.exact
    stderr: CompareMode = CompareMode.exact
    files: CompareMode = CompareMode.exact


def check_relative_path(name: str) -> str:
    """Reject file names that are absolute or climb out of the work directory."""
    if not name or "\x00" in name:
        raise ValueError(f"invalid file name {name!r}")
    normalized = posixpath.normpath(name)
    if name.startswith("/") or normalized == ".." or normalized.startswith("../") or normalized == ".":
        raise ValueError(f"file name {name!r} must stay inside the work directory")
    return normalized


class Expectation(BaseModel):
    """What the reference did: exit code, output streams and the files it wrote."""

    model_config = ConfigDict(extra="forbid")

    exit_code: int
    stdout: bytes = b""
    stderr: bytes = b""
    files: dict[str, bytes | None] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        data = decode_b64_fields(data, ("stdout", "stderr"))
        if isinstance(data, dict) and isinstance(data.get("files"), dict):
            # a file the reference did not create is recorded as null
            missing = {k for k, v in data["files"].items() if v is None}
            kept = {k: v for k, v in data["files"].items() if v is not None}
            data = decode_b64_mapping({**data, "files": kept}, "files")
            data["files"].update(dict.fromkeys(missing))
        else:
            data = decode_b64_mapping(data, "files")
        return data

    @field_validator("files")
    @classmethod
    def _names(cls, files: dict[str, bytes | None]) -> dict[str, bytes | None]:
        return {check_relative_path(k): v for k, v in files.items()}

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict, text where possible and base64 otherwise."""
        out: dict[str, Any] = {"exit_code": self.exit_code}
        encode_bytes(out, "stdout", self.stdout)
        encode_bytes(out, "stderr", self.stderr)
        present = {k: v for k, v in self.files.items() if v is not None}
        encode_mapping(out, "files", present)
        for name, content in self.files.items():
            if content is None:
                out.setdefault("files", {})[name] = None
        return out


class TestCase(BaseModel):
    """One hidden behavioral test: how to run ./executable and what it must do."""

    __test__ = False  # not a pytest class
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=200)
    group: str = "default"
    argv: list[str] = Field(default_factory=list)
    stdin: bytes = b""
    env: Environment = Field(default_factory=dict)
    files: dict[str, bytes] = Field(default_factory=dict)
    timeout_s: float = Field(default=10.0, gt=0, le=3600)
    expect: Expectation
    compare: Comparison = Field(default_factory=Comparison)
    source: str = Field(default="", description="where a derived case comes from, e.g. iid/branch/test")

    @model_validator(mode="before")
    @classmethod
    def _decode(cls, data: Any) -> Any:
        return decode_b64_mapping(decode_b64_fields(data, ("stdin",)), "files")

    @field_validator("files")
    @classmethod
    def _names(cls, files: dict[str, bytes]) -> dict[str, bytes]:
        return {check_relative_path(k): v for k, v in files.items()}

    @field_validator("argv")
    @classmethod
    def _no_nul(cls, argv: list[str]) -> list[str]:
        if any("\x00" in arg for arg in argv):
            raise ValueError("argv entries cannot contain NUL bytes")
        return argv

    def to_json_dict(self) -> dict[str, Any]:
        """JSON-ready dict in the suite.jsonl layout."""
        out: dict[str, Any] = {"id": self.id, "group": self.group, "argv": self.argv}
        encode_bytes(out, "stdin", self.stdin)
        out["env"] = self.env
        encode_mapping(out, "files", self.files)
        out["timeout_s"] = self.timeout_s
        out["expect"] = self.expect.to_json_dict()
        out["compare"] = self.compare.model_dump(mode="json")
        if self.source:
            out["source"] = self.source
        return out


class Suite(BaseModel):
    """An ordered list of test cases with unique ids."""

    cases: list[TestCase]

    @field_validator("cases")
    @classmethod
    def _unique(cls, cases: list[TestCase]) -> list[TestCase]:
        seen: set[str] = set()
        for case in cases:
            if case.id in seen:
                raise ValueError(f"duplicate test id {case.id!r}")
            seen.add(case.id)
        return cases

    def __len__(self) -> int:
        return len(self.cases)


def load_suite(path: Path) -> Suite:
    """Read suite.jsonl; a malformed line raises FormatError naming the file and line."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read suite {path}: {exc.strerror}") from None
    cases: list[TestCase] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            cases.append(TestCase.model_validate(json.loads(line)))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatError(f"{path}:{number}: not valid JSON ({exc})") from None
        except RecursionError:
            raise FormatError(f"{path}:{number}: not valid JSON (nested too deeply)") from None
        except ValidationError as exc:
            raise FormatError(f"{path}:{number}: {_first_error(exc)}") from None
    try:
        return Suite(cases=cases)
    except ValidationError as exc:
        raise FormatError(f"{path}: {_first_error(exc)}") from None


def dump_suite(suite: Suite, path: Path) -> None:
    """Write suite.jsonl, one compact JSON object per line."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(case.to_json_dict(), ensure_ascii=False, sort_keys=False) for case in suite.cases]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def suite_digest(path: Path) -> str:
    """sha256 of the suite file, so results name exactly what they were graded against."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _first_error(exc: ValidationError) -> str:
    return first_error(exc)
