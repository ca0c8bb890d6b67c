"""The bundled demo: a figlet task recorded from the real program and three submissions to grade."""

from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parent
DEMO_TASK = DEMO_DIR / "tasks" / "figlet"
DEMO_SUBMISSIONS = {
    "stub": DEMO_DIR / "submissions" / "stub",
    "partial": DEMO_DIR / "submissions" / "partial",
    "reference-wrapper": DEMO_DIR / "submissions" / "reference-wrapper",
}
# a scripted model's replay of an agent run that writes the partial rebuild in a clean room
DEMO_AGENT_SCRIPT = DEMO_DIR / "agent" / "figlet-partial.yaml"
DEMO_AGENT_ROW = "scripted-agent"
# what each submission must score: (lowest, highest)
EXPECTED_SCORES = {
    "stub": (0.0, 0.05),
    "partial": (0.2, 0.9),
    "reference-wrapper": (0.0, 0.0),
    DEMO_AGENT_ROW: (0.2, 0.9),
}
