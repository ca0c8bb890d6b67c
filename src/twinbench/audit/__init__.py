"""Audit a submission: cheat detection with concrete evidence, and code statistics against the reference."""

from twinbench.audit.audit import audit_submission, default_reference_source, reference_code_stats, write_audit
from twinbench.audit.codestats import CodeStats, LanguageStats, code_stats, compare_stats
from twinbench.audit.models import AuditReport, Finding, Severity

__all__ = [
    "AuditReport",
    "CodeStats",
    "Finding",
    "LanguageStats",
    "Severity",
    "audit_submission",
    "code_stats",
    "compare_stats",
    "default_reference_source",
    "reference_code_stats",
    "write_audit",
]
