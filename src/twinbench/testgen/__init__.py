"""Making hidden test suites by recording what the reference program does."""

from twinbench.testgen.record import CaseSpec, RecordReport, record_reference

__all__ = ["CaseSpec", "RecordReport", "record_reference"]
