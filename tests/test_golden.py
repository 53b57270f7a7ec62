"""Golden Gradescope results: the whole results document of a few submissions, compared exactly.

Feedback wording is meant to change; when it does on purpose, regenerate the
golden files and review the diff like any other change:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py

Each golden file is tests/golden/<what the submission does>.json: the results
document minus execution_time (the only part that varies between runs).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.results import to_gradescope
from helpers import ON_PINNED_NUMPY, PINNED_NUMPY, PROJECT, SOFTMAX, SUBMISSIONS, grade

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

# golden name -> the submission (a folder, or one file placed at mytorch/nn/activation.py). Only
# vectorised submissions: a loop-based one gets an efficiency note quoting its measured times, which
# differ from run to run (the writeup's looped code is checked by test_styles.py instead).
SUBMISSIONS_BY_NAME = {
    "correct_reference": PROJECT / "reference",
    "not_implemented_template": PROJECT / "student_template",
    "backward_uses_jacobian_diagonal_only": SUBMISSIONS / "diagonal_only.py",
    "squeezes_batch_of_one": SUBMISSIONS / "squeezed_shapes.py",
    "outputs_off_by_a_tenth_of_a_percent": SUBMISSIONS / "off_by_0_1_percent.py",
    "no_softmax_class": SUBMISSIONS / "no_softmax_class.py",
}


def results_document(submission: Path, tmp_path: Path) -> dict:
    """Grade as a student would submit it (the file inside mytorch/nn/), on the Softmax problem's checks (the
    problem every submission here is about), and drop the timing."""
    if submission.is_file():
        folder = tmp_path / "submission"
        (folder / "mytorch" / "nn").mkdir(parents=True)
        shutil.copy(submission, folder / "mytorch" / "nn" / "activation.py")
        submission = folder
    document = to_gradescope(grade(submission, problem=SOFTMAX))
    assert isinstance(document.pop("execution_time"), float)
    return json.loads(json.dumps(document))  # exactly what a results.json would hold


@pytest.mark.skipif(not ON_PINNED_NUMPY, reason=f"golden files hold values computed with numpy=={PINNED_NUMPY}")
@pytest.mark.parametrize("name", sorted(SUBMISSIONS_BY_NAME))
def test_results_match_golden(name, tmp_path):
    document = results_document(SUBMISSIONS_BY_NAME[name], tmp_path)
    path = GOLDEN / f"{name}.json"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert path.is_file(), f"no golden file {path.name}: run UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py"
    golden = json.loads(path.read_text(encoding="utf-8"))
    assert document == golden, f"results differ from {path.name}; if the change is intended, regenerate (see the top of this file)"


def test_every_golden_file_has_a_submission():
    stored = {p.stem for p in GOLDEN.glob("*.json")}
    assert stored == set(SUBMISSIONS_BY_NAME), "remove golden files whose submission is gone"


def test_golden_scores_are_what_the_submissions_deserve():
    """A sanity check on the stored files themselves, so a bad regeneration cannot slip in unnoticed."""
    scores = {name: json.loads((GOLDEN / f"{name}.json").read_text())["score"] for name in SUBMISSIONS_BY_NAME}
    assert scores["correct_reference"] == 100
    assert scores["not_implemented_template"] == 0 and scores["no_softmax_class"] == 0
    assert scores["outputs_off_by_a_tenth_of_a_percent"] == 0
    assert 0 < scores["backward_uses_jacobian_diagonal_only"] < 100
    assert 0 < scores["squeezes_batch_of_one"] < 100
