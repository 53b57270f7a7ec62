"""No class name is built into the engine: a problem's hints and notes come from its own data.

The Softmax assignment is copied with its class renamed (config, reference,
template, fixtures regenerated): its wrong submissions get the same messages,
hints included. Copied again without its `mistakes` and `feedback`, the same
submissions get none of those hints or notes.
"""

from __future__ import annotations

import functools
import re
import shutil
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from autograder import efficiency
from autograder.config import load_assignment
from autograder.feedback import FEEDBACK_DIR, feedback_path, load_feedback
from autograder.fixtures import load_cases
from autograder.generate import build_cases, stale_fixtures, write_cases
from autograder.grade import grade_submission
from autograder.limits import Limits
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import PROJECT, SUBMISSIONS

WORK = tempfile.TemporaryDirectory(prefix="problem-feedback-")  # removed when the test session ends
LIMITS = Limits(call_timeout=3, import_timeout=5, budget=20)
RENAMED = "Normaliser"
SOFTMAX = load_feedback(feedback_path(DEFAULT_FIXTURES, "softmax"))
# Submissions whose feedback uses each kind of data: a value, the kind returned, an input changed in place,
# error signs, the large-input words, the single-sample note.
CHOSEN = ("wrong_axis", "no_max_subtraction", "missing_keepdims", "modifies_input", "returns_none", "returns_list",
          "raises_in_backward", "diagonal_only", "first_row_only", "right_for_single_sample", "squeezed_shapes")
# Words of the Softmax problem's data (besides its mistakes' hints) ...
FEEDBACK_WORDS = ("The logits in this test are large", "look for a sum or maximum without axis=1")
# ... and of a general recogniser its data switches on (rows_sum_to_one)
SWITCHED_ON = FEEDBACK_WORDS + ("should sum to 1",)


def _copy_assignment(folder: Path, *, rename: bool, feedback: bool) -> Path:
    """The Softmax assignment in `folder` (class renamed, and/or without its feedback data), fixtures generated."""
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    problem = config["problems"]["softmax"]
    if rename:
        problem["class"] = RENAMED
    if not feedback:
        problem.pop("mistakes")
        problem.pop("feedback")
    for part in ("reference", "student_template"):
        shutil.copytree(PROJECT / part, folder / part, ignore=shutil.ignore_patterns("__pycache__"))
        if rename:
            source = folder / part / "mytorch" / "nn" / "activation.py"
            source.write_text(source.read_text().replace("class Softmax", f"class {RENAMED}"))
    (folder / "assignment.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    assignment = load_assignment(folder / "assignment.yaml")
    cases = build_cases(assignment)
    write_cases(cases, folder / "test_cases")
    assert stale_fixtures(cases, folder / "test_cases") == []
    return folder / "test_cases"


@pytest.fixture(scope="module")
def renamed(tmp_path_factory) -> Path:
    return _copy_assignment(tmp_path_factory.mktemp("renamed"), rename=True, feedback=True)


@pytest.fixture(scope="module")
def without(tmp_path_factory) -> Path:
    return _copy_assignment(tmp_path_factory.mktemp("without"), rename=False, feedback=False)


@functools.lru_cache(maxsize=None)
def _messages(name: str, fixtures: Path, class_name: str) -> dict[str, tuple[float, str]]:
    """Test name -> (score, message) of a mistake's submission, its class called `class_name`."""
    source = (SUBMISSIONS / "mistakes" / f"{name}.py").read_text().replace("class Softmax", f"class {class_name}")
    folder = Path(tempfile.mkdtemp(dir=WORK.name)) / "mytorch" / "nn"
    folder.mkdir(parents=True)
    (folder / "activation.py").write_text(source)
    result = grade_submission(folder.parent.parent, fixtures=fixtures, limits=LIMITS)
    return {c.name: (c.score, c.message) for c in result.checks if "efficiency" not in c.tags}


@pytest.mark.parametrize("name", CHOSEN)
def test_a_renamed_class_gets_the_same_messages_and_hints(name, renamed):
    original = _messages(name, DEFAULT_FIXTURES, "Softmax")
    copy = _messages(name, renamed, RENAMED)
    assert copy.keys() == original.keys()
    assert any(SOFTMAX.by_name[name].hint in message for _, message in original.values()), "the hint is given"
    for test, (score, message) in copy.items():
        assert (score, message.replace(RENAMED, "Softmax")) == original[test], test


@pytest.mark.parametrize("name", CHOSEN)
def test_a_problem_without_feedback_data_gets_none_of_it(name, without):
    assert not (without / FEEDBACK_DIR).exists()
    original = _messages(name, DEFAULT_FIXTURES, "Softmax")
    bare = _messages(name, without, "Softmax")
    assert {test: score for test, (score, _) in bare.items()} == {test: score for test, (score, _) in original.items()}
    said = "\n".join(message for _, message in bare.values())
    assert not [m.name for m in SOFTMAX.mistakes if m.hint in said]
    assert not [w for w in SWITCHED_ON if w in said]
    assert not [s.text for m in SOFTMAX.mistakes for s in m.raises if s.text and s.text in said]
    # the numbers stay: each failure still says what is wrong, and where
    assert all(message for score, message in bare.values() if score == 0)


def _timed(cases, seconds: float) -> list:
    return [(case, next(c for c in case.checks if c.method == "backward"), SimpleNamespace(kind="ok", seconds=seconds),
             None) for case in cases]


def test_the_efficiency_note_is_the_problems_own(renamed, without):
    for fixtures, wanted in ((renamed, 1), (without, 0), (DEFAULT_FIXTURES, 1)):
        cases = load_cases(fixtures)
        notes = efficiency.informational_checks(_timed(cases, 0.05), cases)
        assert len(notes) == wanted, fixtures
        if wanted:
            assert re.search(r"about \d+ times as long as a vectorised backward", notes[0].message)
            assert SOFTMAX.efficiency is not None and SOFTMAX.efficiency.note in notes[0].message


def test_the_engine_names_no_class_and_quotes_no_hint():
    """The grading modules hold neither the class name nor any of the problem's words (docstrings aside)."""
    import ast

    words = [m.hint for m in SOFTMAX.mistakes] + [s.text for m in SOFTMAX.mistakes for s in m.raises if s.text]
    words += list(FEEDBACK_WORDS)
    for path in sorted((PROJECT / "autograder").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body
                      and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
        texts = [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant)
                 and isinstance(node.value, str) and id(node) not in docstrings]
        found = [t for t in texts if "Softmax" in t or any(w[:40] in t for w in words)]
        assert not found, f"{path.name}: {found[:3]}"


@pytest.mark.parametrize("where, value, said", [
    ("mistakes", {"value": "__import__('os').system('true')"}, "problems.softmax.mistakes[0].value"),
    ("mistakes", {"value": "np.save('x', Z)"}, "np.save is not allowed"),
    ("mistakes", {"value": "np.copyto(A, 0)"}, "np.copyto is not allowed"),
    ("mistakes", {"value": "np.linalg"}, "np.linalg is not a NumPy function"),
    ("mistakes", {"value": "Z.__class__"}, "attribute '.__class__' is not allowed"),
    ("mistakes", {"raises": [{"exception": "ValueError", "message": "(("}]}, "not a regular expression"),
    ("mistakes", {"returns": "tuple"}, "problems.softmax.mistakes[0].returns"),
    ("mistakes", {"method": "sideways"}, "'sideways' is not a method"),
    ("feedback", {"efficiency": {"method": "backward", "fast": "A +", "cost": "1", "note": "x"}},
     "problems.softmax.feedback.efficiency.fast"),
    ("feedback", {"large_inputs": {"input": "Z", "above": 1, "text": {"sideways": "x"}}}, "'sideways' is not a method"),
    ("feedback", {"colour": True}, "unknown key 'colour'"),
])
def test_bad_feedback_data_is_refused_naming_the_key(tmp_path, where, value, said):
    from autograder.config import parse_assignment
    from autograder.errors import ConfigError

    doc = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    problem = doc["problems"]["softmax"]
    if where == "mistakes":
        problem["mistakes"][0].update(value)
    else:
        problem["feedback"].update(value)
    with pytest.raises(ConfigError) as info:
        parse_assignment(doc, tmp_path / "assignment.yaml")
    assert said in str(info.value), str(info.value)
