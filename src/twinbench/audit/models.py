"""The audit report: findings about a submission, each with a rule, a severity and concrete evidence."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field, field_validator, model_validator

from twinbench.audit.codestats import CodeStats

AUDIT_SCHEMA_VERSION = 1


class Severity(StrEnum):
    """How much a finding matters: critical means the score cannot be trusted."""

    info = "info"
    warning = "warning"
    critical = "critical"


class Finding(BaseModel):
    """One thing the audit noticed, with the evidence a person needs to check it."""

    rule: str = Field(description="e.g. reference-copy, wrapper, build-fetch, prebuilt-executable, trajectory-*")
    severity: Severity
    message: str = Field(description="one line")
    evidence: list[str] = Field(default_factory=list, description="file:line or file:offset snippets, commands")
    file: str | None = Field(default=None, description="the file concerned, relative to the submission")

    @field_validator("message")
    @classmethod
    def _one_line(cls, message: str) -> str:
        return " ".join(message.split())


class AuditReport(BaseModel):
    """Everything the audit found about one submission of one task."""

    schema_version: int = AUDIT_SCHEMA_VERSION
    task: str
    submission: str
    submission_sha256: str
    findings: list[Finding] = Field(default_factory=list)
    flagged: bool = Field(default=False, description="any warning or critical finding; derived from findings")
    code: CodeStats | None = None
    reference_code: CodeStats | None = None

    @model_validator(mode="after")
    def _derive_flagged(self) -> AuditReport:
        self.flagged = any(finding.severity != Severity.info for finding in self.findings)
        return self

    def by_rule(self, rule: str) -> list[Finding]:
        """The findings of one rule."""
        return [finding for finding in self.findings if finding.rule == rule]
