"""Interoperation with other benchmarks' formats (ProgramBench)."""
