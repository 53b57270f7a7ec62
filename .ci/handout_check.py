"""Unpack a handout and grade four submissions in it as a student would; exit 1 on any surprise.

Run by .github/workflows/handout.yml on each system. For each submission:
`python -m autograder` must end with `Total: S/M`, `python -m pytest` must
report the same total, neither may print a Python traceback, and nothing
may be left in the temporary folder. Uses only the standard library.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import venv
import zipfile
from pathlib import Path

STUDENT_FILE = Path("mytorch/nn/activation.py")
HANGS = ("class Softmax:\n    def forward(self, Z):\n        while True:\n            pass\n\n"
         "    def backward(self, dLdA):\n        while True:\n            pass\n")


def main(handout: str) -> int:
    root = Path(__file__).resolve().parent.parent
    work = Path(tempfile.mkdtemp(prefix="handout-check-"))
    os.chmod(work, 0o755)  # as root, the hardened sandbox's account must reach the temporary folders in it
    folder = work / "hw1"
    with zipfile.ZipFile(handout) as archive:
        archive.extractall(folder)
    venv.create(work / ".venv", with_pip=True)
    python = work / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    subprocess.run([str(python), "-m", "pip", "install", "-q", "-r", str(folder / "requirements.txt")], check=True)
    visible = None
    failures = []
    for name, code in (("reference", (root / "reference" / STUDENT_FILE).read_text()),
                       ("template", (root / "student_template" / STUDENT_FILE).read_text()),
                       ("hangs", HANGS), ("syntax_error", (root / "tests/submissions/syntax_error.py").read_text())):
        (folder / STUDENT_FILE).write_text(code)
        tmp = work / f"tmp-{name}"
        tmp.mkdir()
        env = dict(os.environ, TMPDIR=str(tmp), TEMP=str(tmp), TMP=str(tmp))
        graded = subprocess.run([str(python), "-m", "autograder"], cwd=folder, env=env, capture_output=True, text=True)
        tested = subprocess.run([str(python), "-m", "pytest", "-q"], cwd=folder, env=env, capture_output=True, text=True)
        total = re.search(r"Total: ([\d.]+)/([\d.]+)\s*$", graded.stdout)
        if total is None:
            failures.append(f"{name}: python -m autograder printed no total:\n{graded.stdout[-2000:]}{graded.stderr}")
            continue
        score, visible = total.group(1), total.group(2)
        if (name == "reference") != (score == visible):
            failures.append(f"{name}: scored {score}/{visible}")
        if f"Total: {score}/{visible} (the tests that ran)" not in tested.stdout:
            failures.append(f"{name}: pytest disagrees:\n{tested.stdout[-2000:]}")
        for proc in (graded, tested):
            if "Traceback (most recent call last)" in proc.stdout + proc.stderr:
                failures.append(f"{name}: a traceback:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
        left = list(tmp.iterdir())
        if left:
            failures.append(f"{name}: left in the temporary folder: {left}")
        print(f"{name}: {score}/{visible}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
