"""`generate`: deterministic, byte for byte; `--check` catches drift; a wrong reference writes nothing."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.config import InputSpec, load_assignment
from autograder.errors import AutograderError
from autograder.fixtures import GENERATED_HEADER, dump_case, fixture_filename, generated_header
from autograder.generate import build_cases, draw, feedback_files, stale_fixtures, write_cases
from autograder.fixtures import load_cases
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES, PROJECT_ROOT
from helpers import ON_PINNED_NUMPY, SOFTMAX

ASSIGNMENT = load_assignment(DEFAULT_CONFIG)


def generate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "generate", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=300)


def folder_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of a fixtures folder (the cases, and the problems' feedback in feedback/) by relative path; not
    the index `autograder index` may have left there (setup.sh's, not generate's)."""
    from autograder.fixture_index import INDEX_NAME

    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != INDEX_NAME}


def test_generate_into_an_empty_folder_reproduces_test_cases_byte_for_byte(tmp_path):
    out = tmp_path / "fresh"
    proc = generate("--out", str(out))
    assert proc.returncode == 0, proc.stderr
    if ON_PINNED_NUMPY:
        assert folder_bytes(out) == folder_bytes(DEFAULT_FIXTURES)
    else:  # the same files: the cases' expected values equal but for their last bits, the feedback byte for byte
        fresh, committed = folder_bytes(out), folder_bytes(DEFAULT_FIXTURES)
        assert fresh.keys() == committed.keys()
        assert {k: v for k, v in fresh.items() if k.startswith("feedback/")} == \
            {k: v for k, v in committed.items() if k.startswith("feedback/")}
        # cases read back from files carry no feedback (it is in feedback/, compared above)
        assert [line for line in stale_fixtures(load_cases(out), DEFAULT_FIXTURES)
                if not line.startswith("feedback/")] == []


def test_check_passes_on_the_repository():
    proc = generate("--check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout


def test_check_reports_each_kind_of_drift(tmp_path):
    out = tmp_path / "fixtures"
    shutil.copytree(DEFAULT_FIXTURES, out)
    files = sorted(out.glob("*.yaml"))
    files[0].write_text(files[0].read_text().replace("points: 5.0", "points: 6.0", 1))
    files[1].unlink()
    (out / "99_leftover.yaml").write_text(GENERATED_HEADER + "name: leftover\n")
    proc = generate("--check", "--out", str(out))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"{files[0].name}: differs" in proc.stdout
    assert f"{files[1].name}: missing" in proc.stdout
    assert "99_leftover.yaml: not in the config" in proc.stdout
    assert not files[1].exists(), "--check must write nothing"


def test_build_is_deterministic_in_process():
    first = [dump_case(c) for c in build_cases(ASSIGNMENT)]
    second = [dump_case(c) for c in build_cases(ASSIGNMENT)]
    assert first == second
    if ON_PINNED_NUMPY:
        assert first == [(DEFAULT_FIXTURES / fixture_filename(c)).read_text() for c in build_cases(ASSIGNMENT)]
    assert stale_fixtures(build_cases(ASSIGNMENT), DEFAULT_FIXTURES) == []


def test_write_leaves_unchanged_files_alone_and_removes_only_stale_generated_ones(tmp_path):
    cases = build_cases(ASSIGNMENT)
    first = write_cases(cases, tmp_path)
    extra = len(feedback_files(cases))  # test_cases/feedback/softmax.yaml
    assert extra == 1 and len(first.written) == len(cases) + extra and not first.unchanged and not first.removed
    before = {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.yaml")}
    stale = tmp_path / "98_old_case.yaml"
    stale.write_text(GENERATED_HEADER + "name: old_case\n")
    other = tmp_path / "97_of_a_folder_config.yaml"  # generated from another config: its header names that one
    other.write_text(generated_header("examples/x/assignment.yaml") + "name: other\n")
    mine = tmp_path / "notes.yaml"
    mine.write_text("# an instructor's own file\n")
    second = write_cases(cases, tmp_path)
    assert not second.written and len(second.unchanged) == len(cases) + extra
    assert second.removed == [other, stale] and not stale.exists() and not other.exists() and mine.exists()
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.glob("*.yaml") if p != mine} == before
    assert not list(tmp_path.glob(".tmp-*")), "temporary files left behind"
    assert stale_fixtures(cases, tmp_path) == ["notes.yaml: not in the config"]


def test_editing_one_case_changes_only_its_own_fixture():
    """Each case draws from its own seeded generator, so cases do not shift each other's data."""

    cases = list(ASSIGNMENT.cases)
    cases[2] = dataclasses.replace(cases[2], description="edited")
    edited = dataclasses.replace(ASSIGNMENT, cases=tuple(cases))
    old = [dump_case(c) for c in build_cases(ASSIGNMENT)]
    new = [dump_case(c) for c in build_cases(edited)]
    changed = [i for i, (a, b) in enumerate(zip(old, new)) if a != b]
    assert changed == [2]


# -- a wrong reference is refused ---------------------------------------------------------

WRONG_FORWARD = """\
import numpy as np


class Softmax:
    def forward(self, Z):
        e = np.exp(Z - Z.max(axis=1, keepdims=True))
        self.A = e / e.sum(axis=1, keepdims=True) * (1 + 1e-9)  # off by one part in a billion
        return self.A

    def backward(self, dLdA):
        return self.A * (dLdA - (dLdA * self.A).sum(axis=1, keepdims=True))
"""


def test_a_reference_that_disagrees_with_independent_writes_nothing(tmp_path):
    (tmp_path / ASSIGNMENT.reference / "mytorch" / "nn").mkdir(parents=True)
    (tmp_path / ASSIGNMENT.reference / ASSIGNMENT.problems[SOFTMAX].file).write_text(WRONG_FORWARD)
    softmax = dataclasses.replace(ASSIGNMENT, problems={SOFTMAX: ASSIGNMENT.problems[SOFTMAX]},
                                  cases=tuple(c for c in ASSIGNMENT.cases if c.problem == SOFTMAX))
    with pytest.raises(AutograderError) as info:
        build_cases(softmax, root=tmp_path)
    message = str(info.value)
    assert "writeup_example" in message and "independent" in message and "not written" in message


def test_missing_reference_is_a_clear_error(tmp_path):
    with pytest.raises(AutograderError, match="reference solution") as info:
        build_cases(ASSIGNMENT, root=tmp_path)
    assert str(tmp_path) in str(info.value)


# -- drawing inputs ------------------------------------------------------------------------

def test_stability_logits_are_exact_in_float32():
    for case in build_cases(ASSIGNMENT):
        if "stability" in case.tags:
            Z = case.inputs["Z"]
            assert np.array_equal(Z.astype(np.float32).astype(np.float64), Z), case.name
            assert np.array_equal(Z * 64, np.round(Z * 64)), case.name


def test_draw_kinds():
    rng = np.random.default_rng(0)
    probabilities = [[0.1, 0.2, 0.7]]
    logits = draw(InputSpec("log_of", {"values": probabilities}), (1, 3), rng)
    np.testing.assert_allclose(np.exp(logits), probabilities, rtol=1e-15)
    shifted = draw(InputSpec("values", {"values": [[1.0, 2.0], [3.0, 4.0]]}, row_offsets=(100.0, -100.0)), (2, 2), rng)
    assert shifted.tolist() == [[101.0, 102.0], [-97.0, -96.0]]
    stepped = draw(InputSpec("uniform", {"low": -3, "high": 3}, step=0.25), (50, 4), rng)
    assert np.array_equal(stepped * 4, np.round(stepped * 4)) and stepped.min() >= -3 and stepped.max() <= 3
    rounded = draw(InputSpec("normal", {"std": 5}, round=2), (10, 10), rng)
    assert np.array_equal(rounded, np.round(rounded, 2))
    assert not np.signbit(draw(InputSpec("values", {"values": [[-0.0]]}), (1, 1), rng)).any()


@pytest.mark.parametrize("spec, words", [
    (InputSpec("values", {"values": [[1.0, 2.0]]}), "shape"),
    (InputSpec("normal", {}, row_offsets=(1.0, 2.0, 3.0)), "row_offsets"),
])
def test_draw_mistakes_are_explained(spec, words):
    with pytest.raises(AutograderError, match=words):
        draw(spec, (1, 3), np.random.default_rng(0))


def test_last_bit_differences_are_not_stale_but_real_changes_are(tmp_path):
    """Another NumPy version may round exp() differently: such a file is current and keeps its bytes."""
    import dataclasses

    cases = build_cases(ASSIGNMENT)
    write_cases(cases, tmp_path)
    case = next(c for c in cases if c.name == "stability_thousands")
    target = tmp_path / fixture_filename(case)
    original = target.read_bytes()

    nudged = dict(case.expected, dLdZ=np.nextafter(case.expected["dLdZ"], np.inf))  # one ulp, every value
    rounded = dataclasses.replace(case, expected=nudged)
    assert dump_case(rounded) != original.decode()
    report = write_cases([rounded if c is case else c for c in cases], tmp_path)
    assert target in report.unchanged and target.read_bytes() == original
    assert stale_fixtures([rounded if c is case else c for c in cases], tmp_path) == []

    changed = dataclasses.replace(case, expected=dict(case.expected, dLdZ=case.expected["dLdZ"] * (1 + 1e-9)))
    assert stale_fixtures([changed if c is case else c for c in cases], tmp_path) == [f"{target.name}: differs"]
    moved = dataclasses.replace(case, inputs=dict(case.inputs, dLdA=np.nextafter(case.inputs["dLdA"], np.inf)))
    assert stale_fixtures([moved if c is case else c for c in cases], tmp_path) == [f"{target.name}: differs"]
