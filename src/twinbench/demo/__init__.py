"""The bundled demo: a figlet task recorded from the real program and three submissions to grade."""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
DEMO_TASK = DEMO_DIR / "tasks" / "figlet"
DEMO_SUBMISSIONS = {
    "stub": DEMO_DIR / "submissions" / "stub",
    "partial": DEMO_DIR / "submissions" / "partial",
    "reference-wrapper": DEMO_DIR / "submissions" / "reference-wrapper",
}
# what each submission must score: (lowest, highest)
EXPECTED_SCORES = {"stub": (0.0, 0.05), "partial": (0.2, 0.9), "reference-wrapper": (0.0, 0.0)}
