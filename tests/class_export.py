"""A small class as a Gradescope export: correct code, typical mistakes, broken submissions, a hang.

Used by tests/test_class_report.py and by tests/report_screenshot.py (the README's picture).
`EXPECTED_MISTAKES` is how many students made each catalogue mistake, by construction.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from helpers import PROJECT, SUBMISSIONS

MISTAKES = SUBMISSIONS / "mistakes"

# folder -> (what is in it, who, the score the export has from before: None when it has none)
CLASS = {
    "submission_01": (PROJECT / "reference", "Ada Lovelace", 100.0),
    "submission_02": (SUBMISSIONS / "einsum.py", "Alan Turing", 100.0),
    "submission_03": (SUBMISSIONS / "logsumexp.py", "Grace Hopper", None),
    "submission_04": (MISTAKES / "no_max_subtraction.py", "Edsger Dijkstra", 100.0),
    "submission_05": (SUBMISSIONS / "demo", "Barbara Liskov", 100.0),  # the writeup's code: no max-subtraction
    "submission_06": (MISTAKES / "wrong_axis.py", "Donald Knuth", 47.0),
    "submission_07": (SUBMISSIONS / "wrong_axis.py", "Frances Allen", 47.0),
    "submission_08": (MISTAKES / "diagonal_only.py", "John Backus", 53.0),
    "submission_09": (SUBMISSIONS / "diagonal_only.py", "Margaret Hamilton", 100.0),
    "submission_10": (MISTAKES / "raises_in_backward.py", "Ken Thompson", 62.0),
    "submission_11": (SUBMISSIONS / "off_by_0_1_percent.py", "Radia Perlman", 0.0),
    "submission_12": (MISTAKES / "squeezed_shapes.py", "Leslie Lamport", 82.0),
    "submission_13": (SUBMISSIONS / "syntax_error.py", "Niklaus Wirth", 0.0),
    "submission_14": (SUBMISSIONS / "no_softmax_class.py", "Tony Hoare", 0.0),
    "submission_15": (None, "Adele Goldberg", None),  # uploaded only a note
    "submission_16": (SUBMISSIONS / "hostile" / "hangs_in_backward.py", "Dennis Ritchie", 13.0),
}
# Students per catalogue mistake (each counted once, however many tests showed it).
EXPECTED_MISTAKES = {"no_max_subtraction": 2, "wrong_axis": 2, "diagonal_only": 2, "raises_in_backward": 1,
                     "squeezed_shapes": 1}
# Failed with no catalogue mistake named: the 0.1 % error, the squeezed shapes' shape failures, the hang.
EXPECTED_UNDIAGNOSED = ["submission_11", "submission_12", "submission_16"]
EXPECTED_NOT_GRADED = ["submission_13", "submission_14", "submission_15"]
# Short limits, so that the hang costs seconds: given to regrade with --config.
LIMITS = {"call_timeout": 1, "import_timeout": 3, "budget": 5}


def build_export(root: Path) -> Path:
    """Write the class as ROOT/class_export (one folder per submission, submission_metadata.yml); return it."""
    export = root / "class_export"
    metadata = {}
    for number, (folder, (source, name, before)) in enumerate(CLASS.items(), start=1):
        target = export / folder
        if source is None:
            target.mkdir(parents=True)
            (target / "notes.txt").write_text("I could not get it to work, sorry\n")
        elif source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (target / "mytorch" / "nn").mkdir(parents=True)
            shutil.copy(source, target / "mytorch" / "nn" / "activation.py")
        entry = {":submitters": [{":name": name, ":sid": f"{number:03d}", ":email": f"student{number}@example.edu"}],
                 ":created_at": f"2026-02-{10 + number:02d} 12:00:00.000000000 -05:00"}
        if before is not None:
            entry[":score"] = before
        metadata[folder] = entry
    (export / "submission_metadata.yml").write_text(yaml.safe_dump(metadata, sort_keys=False))
    return export


def short_limits_config(root: Path) -> Path:
    """A copy of the assignment config with LIMITS, for regrade's --config."""
    config = yaml.safe_load((PROJECT / "autograder" / "assignment.yaml").read_text())
    config["limits"].update(LIMITS)
    path = root / "short_limits.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
