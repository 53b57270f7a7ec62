#!/usr/bin/env bash
# Gradescope runs this once, as root, when the autograder image is built
# (Ubuntu 22.04). Safe to run twice: every step checks or overwrites.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
SOURCE="$ROOT/source"
export DEBIAN_FRONTEND=noninteractive
# useradd and runuser live in the sbin folders, which a short root PATH (cron, env -i) lacks.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

if ! command -v python3 >/dev/null || ! python3 -c "import venv, ensurepip" 2>/dev/null; then
  apt-get update -qq
  apt-get install -y -qq python3 python3-venv python3-pip >/dev/null
fi

# A private virtual environment with the pinned wheels (no compilers needed).
python3 -m venv "$ROOT/venv"
"$ROOT/venv/bin/pip" install --quiet --disable-pip-version-check --only-binary=:all: -r "$SOURCE/requirements.txt"

# The unprivileged account student code runs as (the grader also creates it on demand).
# It must be able to read this Python and its packages, and write none of them.
id autograder-sandbox >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin autograder-sandbox
chmod -R a+rX,go-w "$ROOT/venv"
if command -v runuser >/dev/null && ! runuser -u autograder-sandbox -- "$ROOT/venv/bin/python" -c "import numpy"; then
  # Grading still works (workers are forked with NumPy loaded), but modules imported later would fail.
  echo "setup.sh: warning: the autograder-sandbox account cannot run $ROOT/venv/bin/python with numpy" >&2
fi

# Compile the grader once here: a Gradescope container grades one submission and
# would otherwise compile every module on each run (about 30 ms of each grading).
"$ROOT/venv/bin/python" -m compileall -q "$SOURCE/autograder" >/dev/null
# Parse the fixtures once too (test_cases/.parsed-fixtures.index): each grading then reads the cases and
# the feedback ready-made rather than YAML, without importing PyYAML, for the files that are unchanged (the
# YAML stays the truth; see fixture_index.py).
(cd "$SOURCE" && "$ROOT/venv/bin/python" -m autograder index "$SOURCE/test_cases")

# Fail the build now, not at the first submission, if the install is broken.
"$ROOT/venv/bin/python" -c "import numpy, yaml, gradescope_utils; print('autograder ready: numpy', numpy.__version__)"
