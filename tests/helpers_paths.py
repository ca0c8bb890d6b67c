"""Where the tests' own files are, wherever a test module sits in the tree mirroring src/."""

from __future__ import annotations

from pathlib import Path

TESTS_DIR = Path(__file__).parent
TEST_DATA = TESTS_DIR / "data"
