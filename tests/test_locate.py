"""Finding the student's file, and what students see when it cannot be found or imported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


from autograder.locate import SubmissionNotFound, SubmissionUnreadable, encoding_problem, locate
from helpers import PROJECT, SUBMISSIONS, grade, grade_file

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
    result = grade(tmp_path if relative else target)
    assert result.score == result.max_score > 0, [c.message for c in result.checks if not c.passed]


# -- submissions that cannot be graded -------------------------------------------------------

def test_missing_file_fails_every_test_with_the_reason(tmp_path):
    put(tmp_path, "hw1/activations.py")  # a near miss
    result = grade(tmp_path)
    assert result.score == 0 and result.checks
    for check in result.checks:
        assert not check.passed
        assert "activation.py" in check.message and "hw1/activations.py" in check.message


def test_ambiguous_submission_fails_every_test_naming_both_files(tmp_path):
    put(tmp_path, "a/mytorch/nn/activation.py")
    put(tmp_path, "b/mytorch/nn/activation.py")
    result = grade(tmp_path)
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
def test_import_failure_fails_every_test_with_the_real_error_said_once(tmp_path, name):
    put(tmp_path, STUDENT_FILE, SUBMISSIONS / f"{name}.py")
    result = grade(tmp_path)
    assert result.score == 0 and len(result.checks) >= 20
    first, *others = result.checks
    for words in IMPORT_FAILURES[name]:
        assert words in first.message, first.message
    etype = IMPORT_FAILURES[name][0] if name != "no_softmax_class" else "AttributeError"
    # hidden tests too: a failure of the file is the same for every test, so they refer to the visible one
    for check in others:  # one line each, naming the test with the full text and the error
        assert not check.passed and "\n" not in check.message
        assert check.message.startswith(f"Same import error as test 1.1 ({first.name}): {etype}"), check.message


def test_misnamed_class_names_the_classes_found(tmp_path):
    put(tmp_path, STUDENT_FILE, SUBMISSIONS / "no_softmax_class.py")
    first = grade(tmp_path).checks[0]
    assert "found SoftMax; the grader looks for Softmax" in first.message
    assert "rename SoftMax to Softmax" in first.message


def test_missing_class_with_no_look_alike_is_not_told_to_rename(tmp_path):
    (tmp_path / "activation.py").write_text("class Linear:\n    pass\n\n\nclass ReLU:\n    pass\n")
    message = grade(tmp_path).checks[0].message
    assert "found Linear, ReLU; the grader looks for Softmax" in message
    assert "rename" not in message


def test_a_class_error_that_is_not_a_missing_class_gets_no_class_list(tmp_path):
    (tmp_path / "activation.py").write_text("import numpy as np\nnp.nonexistent_function\n\n\nclass Softmax:\n    pass\n")
    message = grade(tmp_path).checks[0].message
    assert "AttributeError" in message and "found" not in message and "the grader looks for" not in message


# -- the file itself: the student's own files, and its encoding -------------------------------------

def test_missing_file_lists_the_students_own_files_never_environments(tmp_path):
    put(tmp_path, "hw1/mytorch/nn/activations.py")
    for n in range(12):
        for env in (".venv/lib/python3.11/site-packages/pkg", "myenv/lib/python3.11/site-packages/x",
                    "conda/lib/python3.11/dist-packages/y", "node_modules/z"):
            (tmp_path / env).mkdir(parents=True, exist_ok=True)
            (tmp_path / env / f"m{n}.py").write_text("x = 1\n")
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "envlike" / "bin").mkdir(parents=True)
    (tmp_path / "envlike" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (tmp_path / "envlike" / "bin" / "activate_this.py").write_text("x = 1\n")
    with pytest.raises(SubmissionNotFound) as info:
        locate(tmp_path, STUDENT_FILE)
    message = str(info.value)
    assert message.endswith("found: hw1/mytorch/nn/activations.py"), message
    for word in ("site-packages", "dist-packages", ".venv", "myenv", "node_modules", "envlike"):
        assert word not in message


def test_many_own_files_are_listed_ten_and_counted(tmp_path):
    for n in range(13):
        (tmp_path / f"part{n:02d}.py").write_text("x = 1\n")
    message = str(pytest.raises(SubmissionNotFound, locate, tmp_path, STUDENT_FILE).value)
    assert "part09.py" in message and "part10.py" not in message and message.endswith(", and 3 more")


SOURCE = (SUBMISSIONS / "einsum.py").read_text()


@pytest.mark.parametrize("encoding, words", [
    ("utf-16", "is saved as UTF-16 (it starts with a UTF-16 byte-order mark)"),
    ("utf-32", "is saved as UTF-32"),
    ("utf-16-le", "looks like UTF-16 without a byte-order mark"),
])
def test_utf16_file_is_named_with_the_fix(tmp_path, encoding, words):
    target = tmp_path / STUDENT_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(SOURCE.encode(encoding))
    with pytest.raises(SubmissionUnreadable, match="save it as UTF-8"):
        locate(tmp_path, STUDENT_FILE)
    result = grade(tmp_path)
    assert result.score == 0
    first = result.checks[0].message
    assert words in first and "save it as UTF-8" in first and f"{STUDENT_FILE} " in first
    assert "null bytes" not in first or "without a byte-order mark" in first
    assert any(words in note for note in result.notes)


def _latin1(tmp_path: Path, text: str) -> Path:
    target = tmp_path / STUDENT_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(text.encode("latin-1"))
    return tmp_path


def test_latin1_bytes_are_named_on_the_import_error_and_in_the_notes(tmp_path):
    folder = _latin1(tmp_path, SOURCE + '\nGREETING = "résumé"\n')
    result = grade(folder)
    line = SOURCE.count("\n") + 2
    words = f"{STUDENT_FILE} is not UTF-8: line {line} has the byte 0xE9 ('é' in Latin-1 / Windows-1252)"
    assert result.score == 0
    assert "could not be imported: SyntaxError" in result.checks[0].message
    assert words in result.checks[0].message and "save it as UTF-8" in result.checks[0].message
    assert any(words in note for note in result.notes)


def test_latin1_in_a_comment_still_grades_and_is_noted(tmp_path):
    folder = _latin1(tmp_path, "# résumé: softmax\n" + SOURCE)
    result = grade(folder)
    assert result.score == result.max_score > 0
    assert any("is not UTF-8: line 1 has the byte 0xE9" in note for note in result.notes)


@pytest.mark.parametrize("data", [
    SOURCE.encode("utf-8"),
    ("# résumé\n" + SOURCE).encode("utf-8"),
    b"\xef\xbb\xbf" + ("# résumé\n" + SOURCE).encode("utf-8"),  # UTF-8 with a byte-order mark
    ("# -*- coding: latin-1 -*-\n# résumé\n" + SOURCE).encode("latin-1"),  # declared, so Python reads it
], ids=["ascii", "utf8", "utf8_bom", "declared_latin1"])
def test_files_python_reads_get_no_encoding_note(tmp_path, data):
    target = tmp_path / STUDENT_FILE
    target.parent.mkdir(parents=True)
    target.write_bytes(data)
    assert locate(tmp_path, STUDENT_FILE).note == ""
    assert encoding_problem(target, STUDENT_FILE) is None


def test_import_traceback_shows_only_the_students_frames(tmp_path):
    put(tmp_path, STUDENT_FILE, SUBMISSIONS / "imports_missing_module.py")
    message = grade(tmp_path).checks[0].message
    assert "frozen" not in message and "importlib" not in message, message


def test_template_is_reported_as_not_implemented(tmp_path):
    result = grade(PROJECT / "student_template")
    assert result.score == 0
    assert all("not implemented" in c.message for c in result.checks)


def test_empty_folder_fails_every_test_saying_nothing_was_found(tmp_path):
    result = grade(tmp_path)
    assert result.score == 0 and len(result.checks) >= 20
    assert all(not c.passed and "no .py files" in c.message for c in result.checks)
    assert any("no .py files" in note for note in result.notes)
