"""`python -m autograder package`: the two zips hold what they should, and package refuses to leak."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from autograder.config import load_assignment, parse_assignment
from autograder.errors import AutograderError
from autograder.fixtures import load_cases
from autograder.package import (find_reference_code, find_withheld, handout_files, handout_split, package,
                                reference_lines, requirements_for_gradescope, zip_bytes)
from autograder.paths import DEFAULT_CONFIG, DEFAULT_FIXTURES
from helpers import PROJECT

# The handout ships the whole assignment's visible cases and withholds the others.
CASES = load_cases(DEFAULT_FIXTURES)
HIDDEN = tuple(c.name for c in CASES if c.visibility != "visible")
VISIBLE = [c.name for c in CASES if c.visibility == "visible"]


@pytest.fixture(scope="module")
def zips(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "autograder", "package", "--out", str(out)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Checked before writing:" in proc.stdout
    return out


def names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


def test_autograder_zip_has_the_entry_points_at_its_root_and_nothing_else(zips):
    listed = names(zips / "autograder.zip")
    with zipfile.ZipFile(zips / "autograder.zip") as archive:
        for entry in ("setup.sh", "run_autograder"):
            assert stat.S_IMODE(archive.getinfo(entry).external_attr >> 16) == 0o755
        requirements = archive.read("requirements.txt").decode()
    assert {n for n in listed if "/" not in n} == {"setup.sh", "run_autograder", "requirements.txt"}
    assert sorted(n for n in listed if n.startswith("test_cases/")) == \
        sorted(f"test_cases/{p.relative_to(DEFAULT_FIXTURES).as_posix()}" for p in DEFAULT_FIXTURES.rglob("*.yaml"))
    assert all(n.startswith(("autograder/", "test_cases/")) for n in listed if "/" in n)
    for instructor_only in ("assignment.yaml", "generate.py", "independent.py", "audit.py", "package.py", "regrade.py"):
        assert f"autograder/{instructor_only}" not in listed
    assert "numpy==" in requirements and "pytest" not in requirements


def test_handout_zip_has_template_visible_fixtures_runner_and_readme(zips):
    listed = names(zips / "handout.zip")
    with zipfile.ZipFile(zips / "handout.zip") as archive:
        stub = archive.read("mytorch/nn/activation.py")
        readme = archive.read("README.md").decode()
        everything = b"\n".join(archive.read(n) for n in listed if not n.endswith(".npz")).decode()
    assert stub == (PROJECT / "student_template/mytorch/nn/activation.py").read_bytes()
    assert {"mytorch/__init__.py", "mytorch/nn/__init__.py", "README.md", "conftest.py", "pytest.ini",
            "requirements.txt", "autograder/__main__.py", "autograder/local_pytest.py"} <= set(listed)
    fixtures = sorted(n for n in listed if n.startswith("test_cases/") and n.count("/") == 1)
    assert len(fixtures) == len(VISIBLE) and not any(h in n for n in fixtures for h in HIDDEN)
    assert {"hidden_batch", "hidden_stability"} <= set(HIDDEN)
    # the problem's feedback, without its value expressions (stored values instead) and its speed note
    assert {n for n in listed if n.startswith("test_cases/feedback/softmax.")} == \
        {"test_cases/feedback/softmax.yaml", "test_cases/feedback/softmax.npz"}
    with zipfile.ZipFile(zips / "handout.zip") as archive:
        feedback = yaml.safe_load(archive.read("test_cases/feedback/softmax.yaml"))
    assert feedback["mistakes"] and not any("value" in m for m in feedback["mistakes"]) and "efficiency" not in feedback
    for hidden in HIDDEN:
        assert hidden not in everything
    assert not any(n.startswith(("reference/", "tests/", "benchmarks/", "student_template/")) for n in listed)
    for line in reference_lines(load_assignment(DEFAULT_CONFIG)):
        assert line not in " ".join(everything.split())
    assert "python -m autograder" in readme and "-k stability" in readme and f"{len(HIDDEN)} more case(s)" in readme


def test_the_softmax_assignment_ships_exactly_the_projects_requirements_no_extra_package(zips):
    """Only an assignment that declares `packages` (examples/hw1p1: SciPy) makes setup.sh install more."""
    ours = (PROJECT / "requirements.txt").read_text()
    with zipfile.ZipFile(zips / "handout.zip") as handout, zipfile.ZipFile(zips / "autograder.zip") as grader:
        assert handout.read("requirements.txt").decode() == ours
        assert grader.read("requirements.txt").decode() == requirements_for_gradescope(ours)
    assert "scipy" not in ours.lower()


def test_zips_are_reproducible():
    files = {"b.txt": (b"two", 0o644), "a/run": (b"#!/bin/sh\n", 0o755)}
    assert zip_bytes(files) == zip_bytes(dict(reversed(list(files.items()))))


def test_gradescope_requirements_drop_only_pytest():
    assert requirements_for_gradescope("numpy==2.2.6\npytest==8.4.2\n# note\npyyaml==6.0.3\n") == \
        "numpy==2.2.6\n# note\npyyaml==6.0.3\n"


# -- refusals ----------------------------------------------------------------------------------

def _split(cases):
    assignment = load_assignment(DEFAULT_CONFIG)
    return (assignment, *handout_split(assignment, cases))


def test_handout_ships_visible_cases_unless_the_config_keeps_one_back(tmp_path):
    doc = yaml.safe_load(DEFAULT_CONFIG.read_text())
    doc["cases"][3]["handout"] = False  # two_classes: visible on Gradescope, not in the handout
    assignment = parse_assignment(doc, tmp_path / "a.yaml")
    shipped, withheld = handout_split(assignment, load_cases(DEFAULT_FIXTURES))
    assert [c.name for c in withheld] == ["two_classes", *HIDDEN]
    assert len(shipped) == len(VISIBLE) - 1 and all(c.visibility == "visible" for c in shipped)
    files = handout_files(assignment, shipped, withheld)
    assert "test_cases/04_two_classes.yaml" not in files
    assert find_withheld(files, shipped, withheld) == []
    assert f"{len(HIDDEN) + 1} more case(s)" in files["README.md"][0].decode()


def test_reference_code_in_the_handout_is_found():
    assignment, shipped, withheld = _split(load_cases(DEFAULT_FIXTURES))
    files = handout_files(assignment, shipped, withheld)
    assert find_reference_code(files, reference_lines(assignment)) == []
    leaked = dict(files)
    leaked["mytorch/nn/helpers.py"] = (b"def f(Z):\n    shifted = Z - np.max(Z, axis=1,  keepdims=True)\n", 0o644)
    found = find_reference_code(leaked, reference_lines(assignment))
    assert found == ["mytorch/nn/helpers.py holds a line of reference/mytorch/nn/activation.py: "
                     "'shifted = Z - np.max(Z, axis=1, keepdims=True)'"]


def test_withheld_fixtures_names_values_and_rows_are_found():
    cases = load_cases(DEFAULT_FIXTURES)
    assignment, shipped, withheld = _split(cases)
    files = handout_files(assignment, shipped, withheld)
    assert find_withheld(files, shipped, withheld) == []
    hidden = next(c for c in withheld if c.name == "hidden_batch")
    leaks = dict(files)
    leaks["test_cases/11_hidden_batch.yaml"] = (hidden.path.read_bytes(), 0o644)
    leaks["notes.txt"] = (f"expected A[3][4] = {float(hidden.expected['A'][3, 4])!r}".encode(), 0o644)
    found = find_withheld(leaks, shipped, withheld)
    assert "test_cases/11_hidden_batch.yaml is not a fixture the handout ships" in found
    assert f"notes.txt holds {float(hidden.expected['A'][3, 4])!r}, a value of the withheld case 'hidden_batch'" in found
    # a withheld input row copied into a shipped fixture
    shipped[2].inputs["Z"] = hidden.inputs["Z"][:2].copy()
    assert find_withheld(files, shipped, withheld) == [f"test_cases/{shipped[2].path.name} has a row of the "
                                                        "withheld case 'hidden_batch'"]


def test_package_refuses_a_leaking_template_and_writes_nothing(tmp_path):
    root = tmp_path / "repo"
    for part in ("autograder", "reference", "student_template", "test_cases"):
        shutil.copytree(PROJECT / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("requirements.txt", "setup.sh", "run_autograder"):
        shutil.copy2(PROJECT / part, root / part)
    stub = root / "student_template/mytorch/nn/activation.py"
    stub.write_text(stub.read_text() + "\n# hint: exps = np.exp(shifted)\n# see hidden_stability\n")
    out = tmp_path / "dist"
    with pytest.raises(AutograderError) as info:
        package(root / "autograder/assignment.yaml", root / "test_cases", out, root=root)
    message = str(info.value)
    assert message.startswith("package refused, nothing was written:")
    assert "mytorch/nn/activation.py names the withheld case 'hidden_stability'" in message
    assert "mytorch/nn/activation.py holds a line of reference/mytorch/nn/activation.py: 'exps = np.exp(shifted)'" in message
    assert not out.exists()


def test_package_refuses_stale_fixtures(tmp_path):
    fixtures = tmp_path / "test_cases"
    shutil.copytree(DEFAULT_FIXTURES, fixtures)
    (fixtures / "03_small_batch.yaml").unlink()
    proc = subprocess.run([sys.executable, "-m", "autograder", "package", "--out", str(tmp_path / "dist"),
                           "--fixtures", str(fixtures)], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "03_small_batch.yaml: missing" in proc.stderr and "generate" in proc.stderr
    assert not (tmp_path / "dist").exists()


def test_package_needs_out():
    proc = subprocess.run([sys.executable, "-m", "autograder", "package"], cwd=PROJECT, capture_output=True, text=True)
    assert proc.returncode == 2 and "--out" in proc.stderr
