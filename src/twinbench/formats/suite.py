"""The hidden test suite: one TestCase per line of tests/suite.jsonl (or of its compact form, suite.jsonl.gz).

The compact form is the same JSON lines, gzip-compressed, with each input file stored once per task under
tests/files/<sha256> and named from the cases by `files_ref: {"in.txt": "sha256:<hex>"}` instead of inline
text or base64. Loading resolves the references; a missing blob or one whose content does not match its
name is a one-line FormatError.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import posixpath
import re
import zlib
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


SUITE_FILE = "suite.jsonl"
COMPACT_SUITE_FILE = "suite.jsonl.gz"
BLOB_DIR = "files"  # beside the suite: tests/files/<sha256>
FILES_REF = "files_ref"
BLOB_REF = re.compile(r"sha256:([0-9a-f]{64})")
# a suite that inflates beyond this is refused rather than filling memory (real suites are a few MB)
MAX_SUITE_BYTES = 1 << 30


def load_suite(path: Path) -> Suite:
    """Read suite.jsonl or suite.jsonl.gz; a malformed line or a bad file reference raises a one-line FormatError."""
    raw = _suite_bytes(path)
    blobs = BlobStore(path.parent / BLOB_DIR)
    cases: list[TestCase] = []
    for number, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            cases.append(TestCase.model_validate(blobs.resolve(data)))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FormatError(f"{path}:{number}: not valid JSON ({exc})") from None
        except RecursionError:
            raise FormatError(f"{path}:{number}: not valid JSON (nested too deeply)") from None
        except ValidationError as exc:
            raise FormatError(f"{path}:{number}: {_first_error(exc)}") from None
        except BlobError as exc:
            raise FormatError(f"{path}:{number}: {exc}") from None
    try:
        return Suite(cases=cases)
    except ValidationError as exc:
        raise FormatError(f"{path}: {_first_error(exc)}") from None


def _suite_bytes(path: Path) -> bytes:
    """The suite's JSON lines, inflated when the file is gzip-compressed (told by its name)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read suite {path}: {exc.strerror}") from None
    if path.suffix != ".gz":
        return raw
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            inflated = stream.read(MAX_SUITE_BYTES + 1)
    except (OSError, EOFError, zlib.error) as exc:
        raise FormatError(f"{path}: not a valid gzip file ({exc})") from None
    if len(inflated) > MAX_SUITE_BYTES:
        raise FormatError(f"{path}: inflates to more than {MAX_SUITE_BYTES >> 20} MiB; refused")
    return inflated


class BlobError(ValueError):
    """A file reference that cannot be resolved: malformed, missing or corrupt."""


class BlobStore:
    """tests/files/: input files stored once under the sha256 of their content; each is verified when read."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._verified: dict[str, bytes] = {}

    def resolve(self, data: Any) -> Any:
        """A raw case dict with its `files_ref` entries replaced by the referenced bytes under `files`."""
        if not isinstance(data, dict) or FILES_REF not in data:
            return data
        refs = data[FILES_REF]
        if not isinstance(refs, dict):
            raise BlobError(f"{FILES_REF}: must be a mapping of file name to 'sha256:<hex>'")
        inline = data.get("files") or {}
        if not isinstance(inline, dict):
            return data  # the model's own validation reports it
        merged = dict(inline)
        for name, ref in refs.items():
            encoded = data.get("files_b64")
            if name in merged or (isinstance(encoded, dict) and name in encoded):
                raise BlobError(f"{FILES_REF}: file {name!r} is also given inline")
            merged[name] = self.read(ref, name)
        rest = {key: value for key, value in data.items() if key != FILES_REF}
        return {**rest, "files": merged}

    def read(self, ref: Any, name: str) -> bytes:
        """The content a reference names, checked against its hash."""
        match = BLOB_REF.fullmatch(ref) if isinstance(ref, str) else None
        if match is None:
            raise BlobError(f"{FILES_REF}[{name!r}]: {ref!r} is not a 'sha256:<64 lowercase hex>' reference")
        digest = match.group(1)
        if digest not in self._verified:
            blob = self.directory / digest
            try:
                content = blob.read_bytes()
            except OSError as exc:
                raise BlobError(f"{FILES_REF}[{name!r}]: blob {blob} cannot be read ({exc.strerror or exc})") from None
            if hashlib.sha256(content).hexdigest() != digest:
                raise BlobError(f"{FILES_REF}[{name!r}]: blob {blob} is corrupt (its content does not match its hash)")
            self._verified[digest] = content
        return self._verified[digest]

    def store(self, content: bytes) -> str:
        """Write `content` once (if not there yet) and return its reference."""
        digest = hashlib.sha256(content).hexdigest()
        blob = self.directory / digest
        if not blob.is_file() or hashlib.sha256(blob.read_bytes()).hexdigest() != digest:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = blob.with_name(f".{digest}.tmp")
            partial.write_bytes(content)
            partial.replace(blob)
        return f"sha256:{digest}"


def prune_blobs(blob_dir: Path, suite: Suite) -> int:
    """Remove the blobs of `blob_dir` no case of `suite` holds, and the directory when none is left; returns
    how many blobs the suite references."""
    referenced = {hashlib.sha256(content).hexdigest() for case in suite.cases for content in case.files.values()}
    if blob_dir.is_dir():
        for blob in blob_dir.iterdir():
            if blob.name not in referenced:
                blob.unlink()
        if not any(blob_dir.iterdir()):
            blob_dir.rmdir()
    return len(referenced)


def dump_suite(suite: Suite, path: Path, blobs: BlobStore | None = None) -> None:
    """Write the suite as JSON lines (gzip-compressed when `path` ends in .gz, reproducibly: no time stamp);
    with `blobs`, input files go into the blob store and cases reference them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for case in suite.cases:
        data = case.to_json_dict()
        if blobs is not None and case.files:
            data.pop("files", None)
            data.pop("files_b64", None)
            data[FILES_REF] = {name: blobs.store(content) for name, content in sorted(case.files.items())}
        lines.append(json.dumps(data, ensure_ascii=False, sort_keys=False))
    text = "".join(line + "\n" for line in lines).encode("utf-8")
    if path.suffix == ".gz":
        buffer = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as stream:
            stream.write(text)
        text = buffer.getvalue()
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_bytes(text)
    partial.replace(path)


def suite_file(tests_dir: Path) -> Path:
    """The suite of a tests/ directory: suite.jsonl.gz when the task is compacted, else suite.jsonl."""
    compact = tests_dir / COMPACT_SUITE_FILE
    return compact if compact.exists() else tests_dir / SUITE_FILE


def suite_digest(path: Path) -> str:
    """sha256 of the suite file, so results name exactly what they were graded against."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _first_error(exc: ValidationError) -> str:
    return first_error(exc)
