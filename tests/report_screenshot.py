"""Regenerate tests/class-report.png, the README's picture of the class report.

Regrades the test suite's class (tests/class_export.py) and photographs the
top of its report.html with headless Chromium. From the repository root:

    .venv/bin/python tests/report_screenshot.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from class_export import build_export, short_limits_config  # noqa: E402
from test_class_report import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

TARGET = ROOT / "tests" / "class-report.png"
WINDOW = "1000,2050"  # wide enough for the tables, tall enough for the three figures


def main() -> int:
    """Regrade the class and write the screenshot; 1 when Chromium is missing."""
    if CHROMIUM is None:
        print("error: Chromium is not installed (Debian: apt-get install chromium)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="class-report-") as tmp:
        root = Path(tmp)
        export, out = build_export(root), root / "out"
        subprocess.run([sys.executable, "-m", "autograder", "regrade", str(export), "--out", str(out), "--config",
                        str(short_limits_config(root)), "--jobs", "2"], cwd=ROOT, check=True)
        shot = root / "shot.png"
        subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={root / 'profile'}", "--hide-scrollbars",
                        f"--window-size={WINDOW}", f"--screenshot={shot}", (out / "report.html").as_uri()],
                       check=True, capture_output=True)
        shutil.copy(shot, TARGET)
    print(f"Wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
