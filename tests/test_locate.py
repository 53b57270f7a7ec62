"""Finding the student's file, and what students see when it cannot be found or imported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder.grade import grade_submission
from autograder.locate import SubmissionNotFound, locate
from autograder.text import no_digits
from helpers import PROJECT, SUBMISSIONS, grade_file

STUDENT_FILE = "mytorch/nn/activation.py"
CORRECT = SUBMISSIONS / "einsum.py"


def put(root: Path, relative: str, source: Path = CORRECT) -> Path:
    """Copy a submission file to root/relative (creating folders) and return it."""
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return target


# -- where the file may be ----------------------------------------------------------

@pytest.mark.parametrize("relative, import_root, module", [
    ("activation.py", ".", "activation"),
    ("mytorch/nn/activation.py", ".", "mytorch.nn.activation"),
    ("handout/mytorch/nn/activation.py", "handout", "mytorch.nn.activation"),
    ("HW1/handout/mytorch/nn/activation.py", "HW1/handout", "mytorch.nn.activation"),
    ("HW1/activation.py", "HW1", "activation"),
])
def test_file_is_found_where_students_put_it(tmp_path, relative, import_root, module):
    expected = put(tmp_path, relative)
    (tmp_path / "README.md").write_text("notes\n")
    found = locate(tmp_path, STUDENT_FILE)
    assert found.file == expected
    assert Path(found.import_root) == Path(import_root)
    assert found.module == module
    assert found.shown == relative


def test_package_path_wins_over_a_loose_copy(tmp_path):
    put(tmp_path, "activation.py")
    packaged = put(tmp_path, "mytorch/nn/activation.py")
    assert locate(tmp_path, STUDENT_FILE).file == packaged


def test_macos_and_cache_copies_are_ignored(tmp_path):
    real = put(tmp_path, "HW1/mytorch/nn/activation.py")
    put(tmp_path, "__MACOSX/HW1/mytorch/nn/activation.py")
    put(tmp_path, ".ipynb_checkpoints/mytorch/nn/activation.py")
    put(tmp_path, "venv/lib/mytorch/nn/activation.py")
    assert locate(tmp_path, STUDENT_FILE).file == real


def test_single_py_file_is_accepted(tmp_path):
    single = put(tmp_path, "my_softmax.py")
    found = locate(single, STUDENT_FILE)
    assert found.file == single and found.module == "my_softmax" and found.import_root == "."


def test_missing_file_lists_what_was_found(tmp_path):
    put(tmp_path, "HW1/mytorch/nn/linear.py")
    put(tmp_path, "HW1/notes.py")
    with pytest.raises(SubmissionNotFound) as info:
        locate(tmp_path, STUDENT_FILE)
    message = str(info.value)
    assert "activation.py" in message and STUDENT_FILE in message
    assert "HW1/mytorch/nn/linear.py" in message and "HW1/notes.py" in message


def test_empty_submission_says_there_is_no_python_at_all(tmp_path):
    with pytest.raises(SubmissionNotFound, match="no .py files"):
        locate(tmp_path, STUDENT_FILE)


def test_two_equally_good_candidates_are_ambiguous(tmp_path):
    put(tmp_path, "attempt1/mytorch/nn/activation.py")
    put(tmp_path, "attempt2/mytorch/nn/activation.py")
    with pytest.raises(SubmissionNotFound) as info:
        locate(tmp_path, STUDENT_FILE)
    message = str(info.value)
    assert "attempt1/mytorch/nn/activation.py" in message and "attempt2/mytorch/nn/activation.py" in message
    assert "one" in message  # tells the student to submit only one


@pytest.mark.parametrize("name", ["nowhere", "activation.txt"])
def test_bad_submission_path_is_refused(tmp_path, name):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("not python")
    with pytest.raises(SubmissionNotFound) as info:
        locate(tmp_path / name, STUDENT_FILE)
    assert name in str(info.value)


# -- grading each layout --------------------------------------------------------------

def test_wrapped_handout_layout_grades_full_marks_end_to_end(tmp_path):
    submission = tmp_path / "upload"
    put(submission, "HW1/handout/mytorch/nn/activation.py", SUBMISSIONS / "logsumexp.py")
    put(submission, "HW1/handout/mytorch/nn/linear.py", SUBMISSIONS / "no_softmax_class.py")  # a sibling module
    results = grade_file(tmp_path, submission)
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0
    assert "HW1/handout/mytorch/nn/activation.py" in results["output"]


@pytest.mark.parametrize("relative", ["activation.py", None], ids=["file_at_root", "single_py_file"])
def test_root_file_and_single_file_grade_full_marks(tmp_path, relative):
    target = put(tmp_path, relative or "solution.py")
    result = grade_submission(tmp_path if relative else target)
    assert result.score == result.max_score > 0, [c.message for c in result.checks if not c.passed]


# -- submissions that cannot be graded -------------------------------------------------------

def test_missing_file_fails_every_test_with_the_reason(tmp_path):
    put(tmp_path, "hw1/activations.py")  # a near miss
    result = grade_submission(tmp_path)
    assert result.score == 0 and result.checks
    for check in result.checks:
        assert not check.passed
        assert "activation.py" in check.message and "hw1/activations.py" in check.message


def test_ambiguous_submission_fails_every_test_naming_both_files(tmp_path):
    put(tmp_path, "a/mytorch/nn/activation.py")
    put(tmp_path, "b/mytorch/nn/activation.py")
    result = grade_submission(tmp_path)
    assert result.score == 0
    for check in result.checks:
        assert "a/mytorch/nn/activation.py" in check.message and "b/mytorch/nn/activation.py" in check.message


IMPORT_FAILURES = {
    # submission: words that must be in every test's message (the exception's type and its own message,
    # and for errors raised by a line of the student's file, that file and line).
    "syntax_error": ("SyntaxError", "never closed", "mytorch/nn/activation.py", "line 7"),
    "imports_missing_module": ("ModuleNotFoundError", "torch_helpers_that_do_not_exist",
                               "mytorch/nn/activation.py", "line 3"),
    "no_softmax_class": ("Softmax", "mytorch"),
}


@pytest.mark.parametrize("name", sorted(IMPORT_FAILURES))
def test_import_failure_fails_every_test_with_the_real_error(tmp_path, name):
    put(tmp_path, STUDENT_FILE, SUBMISSIONS / f"{name}.py")
    result = grade_submission(tmp_path)
    assert result.score == 0 and len(result.checks) >= 20
    messages = {check.message for check in result.checks if check.visibility == "visible"}
    assert len(messages) == 1, "every test should give the same reason"
    message = messages.pop()
    # hidden tests give it too, with '#' for the digits of the student's text (grade.hidden_error)
    assert {check.message for check in result.checks if check.visibility != "visible"} == {no_digits(message)}
    for words in IMPORT_FAILURES[name]:
        assert words in message, message


def test_import_traceback_shows_only_the_students_frames(tmp_path):
    put(tmp_path, STUDENT_FILE, SUBMISSIONS / "imports_missing_module.py")
    message = grade_submission(tmp_path).checks[0].message
    assert "frozen" not in message and "importlib" not in message, message


def test_template_is_reported_as_not_implemented(tmp_path):
    result = grade_submission(PROJECT / "student_template")
    assert result.score == 0
    assert all("not implemented" in c.message for c in result.checks)


def test_empty_folder_fails_every_test_saying_nothing_was_found(tmp_path):
    result = grade_submission(tmp_path)
    assert result.score == 0 and len(result.checks) >= 20
    assert all(not c.passed and "no .py files" in c.message for c in result.checks)
    assert any("no .py files" in note for note in result.notes)
