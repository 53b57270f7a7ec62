"""Red-team attacks of branch redteam2 (see the commit messages): end to end through run_autograder."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import yaml

from test_attacks import set_limits_of_fixtures
from test_sandbox import HOSTILE, expect_clean, grade, root_only, world  # noqa: F401

HW1P1 = Path(__file__).resolve().parent.parent / "examples" / "hw1p1"


@root_only
def test_hidden_inputs_written_into_a_writable_submission_never_reach_a_visible_test(world, sandbox_account):
    """A submission whose folders are writable by anyone (as a zip can make them): code run in a hidden test
    writes its inputs, as class names, into the original submission's file that lacks its class. The visible
    tests of that class list the classes the file defines: those it held when it was located, before any
    student code ran (it used to be read again after the last test, hidden ones included)."""
    folder = world / "writes_into_submission"
    shutil.copytree(HW1P1 / "reference", folder)
    sgd = folder / "mytorch" / "optim" / "sgd.py"
    sgd.write_text(sgd.read_text().replace("class SGD:", "class SGDx:"))
    loss = folder / "mytorch" / "nn" / "loss.py"
    loss.write_text(loss.read_text() + "\n" + (HOSTILE / "writes_into_submission.py").read_text())

    def homework(root: Path) -> None:
        shutil.rmtree(root / "source" / "test_cases")
        shutil.copytree(HW1P1 / "test_cases", root / "source" / "test_cases")
        set_limits_of_fixtures(root / "source" / "test_cases")
        for path in [root / "submission", *(root / "submission").rglob("*")]:  # as a zip's modes can make them
            path.chmod(0o777 if path.is_dir() else 0o666)

    run = grade(world, folder, setup=homework, account_uid=sandbox_account)
    expect_clean(run)
    cases = [yaml.safe_load(p.read_text()) for p in sorted((HW1P1 / "test_cases").glob("*.yaml"))]
    mse = [case for case in cases if case["problem"]["name"] == "mse"]

    def names(visibility: bool) -> set[str]:
        return {repr(float(v)).replace("-", "m").replace(".", "p").replace("+", "") for case in mse
                if (case["visibility"] == "visible") == visibility for v in np.ravel(np.array(case["inputs"]["A"]))}

    hidden = names(False) - names(True)
    visible_text = json.dumps([t for t in run.results["tests"] if t.get("visibility") == "visible"])
    visible_text += run.results["output"]
    shown = set(re.findall(r"m?\d+p\d+(?:e\w+)?", visible_text))
    written = (run.root / "submission" / "mytorch" / "optim" / "sgd.py").read_text()
    assert written.count("class KEPT_") >= 3, "the attack wrote the inputs it saw into the submission"
    assert "In mytorch/optim/sgd.py, found SGDx; the grader looks for SGD." in visible_text
    assert "KEPT_" not in visible_text
    assert hidden and not hidden & shown, sorted(hidden & shown)[:5]


@root_only
def test_children_that_start_threads_and_detach_as_they_are_forked_cost_nothing(world, sandbox_account):
    """Every graded file registers an at-fork hook: each child a host forks (the shared ones as soon as the hosts
    are taken) starts a thread and a detached process. The answers still count, and nothing is left behind."""
    folder = world / "forks_at_fork"
    shutil.copytree(HW1P1 / "reference", folder)
    hook = (HOSTILE / "forks_at_fork.py").read_text()
    for path in (folder / "mytorch").rglob("*.py"):
        if path.name != "__init__.py":
            path.write_text(path.read_text() + "\n" + hook)
    mlp = folder / "models" / "mlp.py"
    mlp.write_text(mlp.read_text() + "\n" + hook)

    def homework(root: Path) -> None:
        shutil.rmtree(root / "source" / "test_cases")
        shutil.copytree(HW1P1 / "test_cases", root / "source" / "test_cases")
        set_limits_of_fixtures(root / "source" / "test_cases")

    run = grade(world, folder, setup=homework, account_uid=sandbox_account)
    expect_clean(run)
    assert run.results["score"] == sum(t["max_score"] for t in run.graded) > 0, \
        [t["output"][:300] for t in run.graded if t["score"] < t["max_score"]][:3]


@root_only
def test_an_import_after_hidden_inputs_were_sent_never_shows_them(world, sandbox_account):
    """A hidden test's import error keeps its words (an import was thought to come before any input). But a
    check that crashes goes on to a worker of its own, which imports afresh after hidden inputs were sent:
    here that import raises a hidden input, spelled out in letters. A hidden test shows an import error's words
    only when a visible test of the file raised the same."""
    folder = world / "spells_at_a_late_import"
    shutil.copytree(HW1P1 / "reference", folder)
    mlp = folder / "models" / "mlp.py"
    mlp.write_text(mlp.read_text() + "\n" + (HOSTILE / "spells_at_a_late_import.py").read_text())

    def homework(root: Path) -> None:
        shutil.rmtree(root / "source" / "test_cases")
        shutil.copytree(HW1P1 / "test_cases", root / "source" / "test_cases")
        set_limits_of_fixtures(root / "source" / "test_cases")

    run = grade(world, folder, setup=homework, account_uid=sandbox_account)
    expect_clean(run)
    shown = json.dumps(run.results) + run.proc.stdout + run.proc.stderr
    hidden_mlp = [t for t in run.graded if t["name"].startswith("mlp0_hidden: forward")]
    assert hidden_mlp and "could not be imported: ImportError: (not shown" in hidden_mlp[0]["output"], hidden_mlp
    assert "SPELLED" not in shown
