"""Where things live, relative to this package (a repo checkout, a handout, or /autograder/source)."""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "autograder" / "assignment.yaml"
DEFAULT_FIXTURES = PROJECT_ROOT / "test_cases"
REFERENCE_ROOT = PROJECT_ROOT / "reference"
