"""Problems are named in the config, not welded into the grader: a second layer needs only config, reference and stub."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.audit import config_mutants
from autograder.config import load_assignment, parse_assignment
from autograder.errors import AutograderError, ConfigError
from autograder.fixtures import load_case, load_cases
from autograder.generate import build_cases, finite_difference_gap, same_up_to_rounding
from autograder.grade import check_name, grade_submission
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import ON_PINNED_NUMPY, PROJECT, add_problem

RELU_REFERENCE = '''

class ReLU:
    """Element-wise max(z, 0)."""

    def forward(self, Z):
        self.A = np.maximum(Z, 0.0)
        return self.A

    def backward(self, dLdA):
        return dLdA * (self.A > 0)
'''

RELU_STUB = '''

class ReLU:
    def forward(self, Z):
        raise NotImplementedError("ReLU.forward")

    def backward(self, dLdA):
        raise NotImplementedError("ReLU.backward")
'''

RELU_PROBLEM = """
  relu:
    file: mytorch/nn/activation.py
    class: ReLU
    methods:
      forward: {inputs: [Z], output: A}
      backward: {inputs: [dLdA], output: dLdZ, before: [forward]}
    mistakes:
      - name: leaky
        hint: "ReLU gives exactly 0 for negative inputs, not a small multiple of them."
        patch:
          - {old: "np.maximum(Z, 0.0)", new: "np.maximum(Z, 0.01 * Z)"}
      - name: no_mask
        hint: "backward passes dLdA through unchanged: multiply it by the mask (self.A > 0)."
        patch:
          - {old: "return dLdA * (self.A > 0)", new: "return dLdA"}
"""

RELU_CASES = """
  - name: relu_small
    problem: relu
    shape: [3, 4]
    points: {forward: 2, backward: 3}
    tags: [relu]
    inputs:
      Z: {normal: {std: 2}}
      dLdA: {normal: {}}

  - name: relu_hidden
    problem: relu
    shape: [5, 7]
    visibility: hidden
    inputs:
      Z: {uniform: {low: -3, high: 3}}
      dLdA: {normal: {}}
"""


def add_relu(root: Path, *, reference: str = RELU_REFERENCE, suffix: str = "") -> str:
    """Add a ReLU problem and its two cases to the root assignment of the repository copy at `root`.
    `suffix` names it apart from a ReLU already there (problem relu<suffix>, class ReLU<suffix>, cases
    relu<suffix>_small and relu<suffix>_hidden). Returns the problem's name."""
    def named(text: str) -> str:
        return text.replace("relu", f"relu{suffix}").replace("ReLU", f"ReLU{suffix}")

    add_problem(root / "autograder/assignment.yaml", root / "reference", root / "student_template",
                file="mytorch/nn/activation.py", problem=named(RELU_PROBLEM), cases=named(RELU_CASES),
                solution=named(reference), stub=named(RELU_STUB))
    return f"relu{suffix}"

BASE_CASES = load_cases(DEFAULT_FIXTURES)  # the repository's assignment, which the tests below add a problem to
BASE_POINTS = sum(check.points for case in BASE_CASES for check in case.checks)
# The problem these tests add: ReLU, named apart from one the assignment may have already (see helpers.add_relu).
SUFFIX = next(s for s in ("", "2", "3") if f"relu{s}" not in load_assignment(DEFAULT_CONFIG).problems)
RELU, RELU_CLASS = f"relu{SUFFIX}", f"ReLU{SUFFIX}"


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, capture_output=True, text=True,
                          timeout=180)


def copy_project(tmp: Path) -> Path:
    """The parts of the repository an instructor edits, in a temporary folder."""
    root = tmp / "repo"
    for part in ("autograder", "reference", "student_template"):
        shutil.copytree(PROJECT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    return root


@pytest.fixture(scope="module")
def relu_project(tmp_path_factory) -> Path:
    root = copy_project(tmp_path_factory.mktemp("relu"))
    assert add_relu(root, suffix=SUFFIX) == RELU
    # small limits keep the grading below quick
    config = root / "autograder/assignment.yaml"
    text = config.read_text()
    assert "budget: 12 " in text
    config.write_text(text.replace("budget: 12 ", "budget: 20 "))
    proc = cli(root, "generate")
    assert proc.returncode == 0, proc.stderr
    return root


def total_points(root: Path) -> float:
    """What the whole assignment of a repository copy is worth: its fixtures' points together."""
    cases = load_cases(root / "test_cases")
    assert sum(check.points for case in cases for check in case.checks if case.problem.name != RELU) == BASE_POINTS
    return sum(check.points for case in cases for check in case.checks)


def test_second_problem_gets_its_own_fixtures_naming_file_class_and_steps(relu_project):
    cases = {c.name: c for c in load_cases(relu_project / "test_cases")}
    assert len(cases) == len(BASE_CASES) + 2
    relu = cases[f"{RELU}_small"]
    assert (relu.problem.name, relu.problem.class_name, relu.problem.file) == (RELU, RELU_CLASS, "mytorch/nn/activation.py")
    assert [c.points for c in relu.checks] == [2.0, 3.0]
    backward = relu.checks[1]
    assert [(s.call, s.args) for s in backward.steps] == [("forward", ("Z",)), ("backward", ("dLdA",))]
    assert "J" not in relu.expected  # the Jacobian extra belongs to softmax's independent check
    assert (relu.expected["A"] == relu.inputs["Z"].clip(min=0)).all()
    assert cases["writeup_example"].problem.class_name == "Softmax"
    hidden = cases[f"{RELU}_hidden"]
    assert hidden.number == len(BASE_CASES) + 2 and hidden.visibility == "hidden"


def test_second_problem_leaves_softmax_fixtures_unchanged(relu_project):
    for path in sorted(DEFAULT_FIXTURES.glob("*.yaml")):
        copy = relu_project / "test_cases" / path.name
        text = copy.read_text().replace("budget: 20.0", "budget: 12.0")
        if ON_PINNED_NUMPY:
            assert text == path.read_text(), path.name
        else:  # equal but for the last bits of expected values
            restored = relu_project / "restored.yaml"
            restored.write_text(text)
            assert same_up_to_rounding(load_case(restored), path), path.name


def test_second_problem_grades_end_to_end(relu_project, tmp_path):
    full = f"{total_points(relu_project):g}"
    reference = cli(relu_project, "grade", "reference", "--quiet")
    template = cli(relu_project, "grade", "student_template", "--quiet")
    assert reference.stdout.strip().splitlines()[-1] == f"Total: {full}/{full}", reference.stderr
    assert template.stdout.strip().splitlines()[-1] == f"Total: 0/{full}", template.stderr
    # correct softmax, ReLU whose backward forgets the mask: only the ReLU backward checks fail
    wrong = tmp_path / "wrong" / "mytorch" / "nn"
    wrong.mkdir(parents=True)
    source = (relu_project / "reference/mytorch/nn/activation.py").read_text()
    before, _, after = source.rpartition("return dLdA * (self.A > 0)")  # the added class is the file's last
    (wrong / "activation.py").write_text(before + "return dLdA" + after)
    lost = sum(check.points for case in load_cases(relu_project / "test_cases") if case.problem.name == RELU
               for check in case.checks if check.method == "backward")
    proc = cli(relu_project, "grade", str(tmp_path / "wrong"))
    assert proc.stdout.strip().splitlines()[-1] == f"Total: {total_points(relu_project) - lost:g}/{full}", proc.stdout
    failed = [line for line in proc.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 2 and all(f"{RELU}_" in line and "backward (dLdZ)" in line for line in failed), failed


def test_grading_selects_the_checks_of_named_problems(relu_project):
    """grade_submission(problems=...): the checks of those problems, every one; an unknown name is an error."""
    fixtures = relu_project / "test_cases"
    cases = load_cases(fixtures)
    relu = grade_submission(relu_project / "reference", fixtures=fixtures, problems=[RELU])
    assert {c.name for c in relu.checks} == {check_name(case, check) for case in cases if case.problem.name == RELU
                                            for check in case.checks}
    assert relu.score == relu.max_score == total_points(relu_project) - BASE_POINTS > 0
    one = check_name(cases[0], cases[0].checks[0])  # a Softmax check: not one of ReLU's
    assert grade_submission(relu_project / "reference", fixtures=fixtures, problems=[RELU], only={one}).checks == []
    with pytest.raises(AutograderError, match=f"no fixture grades problem no_such_problem .*{RELU}"):
        grade_submission(relu_project / "reference", fixtures=fixtures, problems=["no_such_problem"])


def test_mistakes_are_made_in_their_own_class_of_a_file_of_several(relu_project):
    """Softmax's mistakes patch `return self.A`, which ReLU's class in the same file holds too."""
    assignment = load_assignment(relu_project / "autograder/assignment.yaml")
    mutants = {m.name: m for m in config_mutants(assignment, relu_project) if m.problem == "softmax"}
    source = mutants["squeezed_shapes"].source
    assert "return np.squeeze(self.A)" in source and source.count("return self.A") == \
        (relu_project / "reference/mytorch/nn/activation.py").read_text().count("return self.A") - 1
    relu_class = source[source.index(f"class {RELU_CLASS}:"):]
    assert "return self.A\n" in relu_class and "squeeze" not in relu_class


def test_grading_needs_no_config(relu_project, tmp_path):
    """Fixtures say which file and class to grade: a grader without assignment.yaml grades the same."""
    bare = tmp_path / "bare"
    shutil.copytree(relu_project / "autograder", bare / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(relu_project / "test_cases", bare / "test_cases")
    (bare / "autograder" / "assignment.yaml").unlink()
    proc = cli(bare, "grade", str(relu_project / "reference"), "--quiet")
    assert proc.stdout.strip().splitlines()[-1] == f"Total: {total_points(relu_project):g}/{total_points(relu_project):g}", \
        proc.stderr


def test_generate_refuses_a_backward_that_finite_differences_contradict(tmp_path):
    root = copy_project(tmp_path)
    # dLdZ = dLdA * A where A > 0, not dLdA (the text its mistakes patch is kept)
    wrong = RELU_REFERENCE.replace("return dLdA * (self.A > 0)", "return dLdA * (self.A > 0) * self.A")
    add_relu(root, reference=wrong, suffix=SUFFIX)
    proc = cli(root, "generate")
    assert proc.returncode == 2
    assert f"{RELU}_small" in proc.stderr and "finite differences" in proc.stderr, proc.stderr
    assert not (root / "test_cases").exists()


def test_finite_difference_gap_tells_right_from_wrong():
    import numpy as np

    Z = np.array([[1.0, -2.0, 0.5], [3000.0, 3001.5, 2999.0]])
    dLdA = np.array([[0.3, -0.1, 0.2], [1.0, 2.0, -1.0]])
    softmax = lambda z: np.exp(z - z.max(axis=1, keepdims=True)) / np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1, keepdims=True)  # noqa: E731
    A = softmax(Z)
    right = A * (dLdA - (dLdA * A).sum(axis=1, keepdims=True))
    assert finite_difference_gap(softmax, Z, dLdA, right) < 1e-8
    assert finite_difference_gap(softmax, Z, dLdA, dLdA * A * (1 - A)) > 1e-3


def test_committed_fixtures_are_what_generate_writes():
    proc = cli(PROJECT, "generate", "--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_writeup_numbers_are_checked_by_generate(tmp_path):
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    doc["cases"][0]["known"]["dLdZ"] = [[0.0001, -0.0078, 0.0078]]
    with pytest.raises(AutograderError, match=r"writeup_example.*known.dLdZ"):
        build_cases(parse_assignment(doc, tmp_path / "a.yaml"))


# -- a wrong problem definition is an error naming the file and the key ------------------

def _problem_edit(edit):
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    edit(doc["problems"]["softmax"], doc)
    return doc


HIDDEN_STABILITY = [c["name"] for c in yaml.safe_load(DEFAULT_CONFIG.read_text())["cases"]].index("hidden_stability")
BAD_PROBLEMS = [
    ("before_unknown_method", lambda p, d: p["methods"]["backward"].update(before=["predict"]),
     "problems.softmax.methods.backward.before"),
    ("set_from_a_later_output", lambda p, d: p["methods"]["forward"].update(set={"B": "dLdZ"}),
     "problems.softmax.methods.forward.set.B"),
    ("missing_class", lambda p, d: p.pop("class"), "problems.softmax.class"),
    ("file_not_python", lambda p, d: p.update(file="mytorch/nn/activation.txt"), "problems.softmax.file"),
    ("unknown_independent_check", lambda p, d: p.update(independent="tanh"), "problems.softmax.independent"),
    ("activation_without_backward", lambda p, d: p["methods"].pop("backward"), "problems.softmax.kind"),
    ("case_names_unknown_problem", lambda p, d: d["cases"][1].update(problem="no_such_problem"),
     "cases[1] (single_sample).problem"),
    ("case_misses_an_input", lambda p, d: d["cases"][1]["inputs"].pop("dLdA"), "cases[1] (single_sample).inputs.dLdA"),
    ("hidden_case_in_handout", lambda p, d: d["cases"][HIDDEN_STABILITY].update(handout=True),
     f"cases[{HIDDEN_STABILITY}] (hidden_stability).handout"),
    ("unknown_method_key", lambda p, d: p["methods"]["forward"].update(returns="A"), "problems.softmax.methods.forward.returns"),
]


@pytest.mark.parametrize("edit, key", [b[1:] for b in BAD_PROBLEMS], ids=[b[0] for b in BAD_PROBLEMS])
def test_wrong_problem_definition_names_file_and_key(tmp_path, edit, key):
    path = tmp_path / "assignment.yaml"
    with pytest.raises(ConfigError) as info:
        parse_assignment(_problem_edit(edit), path)
    assert str(info.value).startswith(f"{path}: {key}:"), str(info.value)


def test_default_config_describes_softmax_as_forward_then_backward_with_reference_A():
    problem = load_assignment(DEFAULT_CONFIG).problems["softmax"]
    assert (problem.name, problem.class_name, problem.kind, problem.independent) == ("softmax", "Softmax", "activation", "softmax")
    backward = problem.method("backward")
    assert backward.before == ("forward",) and backward.sets == (("A", "A"),) and backward.inputs == ("dLdA",)
