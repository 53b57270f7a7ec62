"""The parsed index of a fixtures folder (setup.sh: `python -m autograder index`) changes how fast grading reads
the fixtures, never what it reads: the YAML stays the truth."""

from __future__ import annotations

import marshal
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder.errors import FixtureError
from autograder.fixture_index import INDEX_NAME, index_head, indexed_cases, layout, read_index, write_index
from autograder.fixtures import Case, load_cases
from autograder.paths import DEFAULT_FIXTURES
from helpers import PROJECT, SOFTMAX, SUBMISSIONS, grade

HOMEWORK_FIXTURES = PROJECT / "examples" / "hw1p1" / "test_cases"


def _copy(fixtures: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "test_cases"
    shutil.copytree(fixtures, copy, ignore=shutil.ignore_patterns(INDEX_NAME))
    return copy


CASES_KEYS = ("files", "feedback")  # the second record's; the rest is the head's


def _read(copy: Path) -> dict:
    """The index's two records (see fixture_index) as one mapping: the head's keys, the cases' keys."""
    data = (copy / INDEX_NAME).read_bytes()
    length = int.from_bytes(data[:8], "big")
    head, cases = marshal.loads(data[8:8 + length]), marshal.loads(data[8 + length:])
    return {**head, **cases}


def _write(copy: Path, index: dict) -> None:
    head = {key: value for key, value in index.items() if key not in CASES_KEYS}
    cases = {key: index[key] for key in CASES_KEYS if key in index}
    first = marshal.dumps(head, 4)
    (copy / INDEX_NAME).write_bytes(len(first).to_bytes(8, "big") + first + marshal.dumps(cases, 4))


def _with_field(encoded_case: tuple, name: str, value) -> tuple:
    """An encoded case (see fixture_index._encode) with one field's value replaced."""
    fields = list(encoded_case[2])
    fields[dict(layout())["Case"].index(name)] = value
    return (encoded_case[0], encoded_case[1], tuple(fields))


def _same_case(a: Case, b: Case) -> None:
    """Every field grading reads, arrays bit for bit and with their dtypes."""
    for name in ("name", "description", "number", "visibility", "tags", "tolerance", "checks", "path", "problem",
                 "limits", "policy", "hints", "config", "structure"):
        assert getattr(a, name) == getattr(b, name), name
    for section in ("inputs", "expected"):
        left, right = getattr(a, section), getattr(b, section)
        assert list(left) == list(right), section
        for key in left:
            assert left[key].dtype == right[key].dtype and left[key].tobytes() == right[key].tobytes(), (section, key)


@pytest.mark.parametrize("fixtures", [DEFAULT_FIXTURES, HOMEWORK_FIXTURES], ids=["root", "hw1p1"])
def test_indexed_fixtures_load_exactly_as_their_yaml(fixtures: Path, tmp_path: Path) -> None:
    copy = _copy(fixtures, tmp_path)
    _, count, left_out = write_index(copy)
    parsed = indexed_cases(copy)
    assert count == len(parsed) == len(list(copy.glob("*.yaml"))) and not left_out
    from_yaml = load_cases(copy, graded_only=True)
    from_index = load_cases(copy, graded_only=True, parsed=parsed)
    assert len(from_yaml) == len(from_index)
    for a, b in zip(from_yaml, from_index):
        _same_case(a, b)


def test_a_fixture_edited_after_indexing_is_read_from_its_yaml(tmp_path: Path) -> None:
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    edited = sorted(copy.glob("*.yaml"))[0]
    text = edited.read_text(encoding="utf-8")
    assert "description: " in text
    edited.write_text(text.replace("description: ", "description: Edited by hand. ", 1), encoding="utf-8")
    parsed = indexed_cases(copy)
    assert edited not in parsed and len(parsed) == len(list(copy.glob("*.yaml"))) - 1
    case = next(c for c in load_cases(copy, graded_only=True, parsed=parsed) if c.path == edited)
    assert case.description.startswith("Edited by hand. ")


@pytest.mark.parametrize("change", ["empty", "not marshal", "a list", "other format", "other python",
                                    "other fields", "a path outside"])
def test_an_unusable_index_is_ignored(change: str, tmp_path: Path) -> None:
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    index = _read(copy)
    assert len(indexed_cases(copy)) == len(index["files"])  # usable as written
    if change == "empty":
        (copy / INDEX_NAME).write_bytes(b"")
    elif change == "not marshal":
        (copy / INDEX_NAME).write_bytes(b"{not marshal")
    elif change == "a list":
        first = marshal.dumps([index], 4)
        (copy / INDEX_NAME).write_bytes(len(first).to_bytes(8, "big") + first * 2)
    else:
        if change == "other format":
            index["format"] = 1
        elif change == "other python":  # marshal's format is the Python's that wrote it
            index["python"] = (3, 9)
        elif change == "other fields":  # a case written for fixture classes as they were before
            index["fields"] = tuple((name, fields[:-1]) for name, fields in index["fields"])
        else:
            index["files"] = {"../" + name: entry for name, entry in index["files"].items()}
        _write(copy, index)
    assert indexed_cases(copy) == {}
    if change != "a path outside":  # the head is of the same index
        assert index_head(copy) is None
    assert len(load_cases(copy, graded_only=True, parsed=indexed_cases(copy))) == len(list(copy.glob("*.yaml")))


def test_an_index_entry_for_other_bytes_is_not_used(tmp_path: Path) -> None:
    """A checksum that does not match (another file's entry, say) leaves the file to its YAML."""
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    index = _read(copy)
    first, second = sorted(index["files"])[:2]
    index["files"][first]["case"] = index["files"][second]["case"]  # a wrong case ...
    index["files"][first]["checksum"] = index["files"][second]["checksum"]  # ... with its own file's checksum
    _write(copy, index)
    parsed = indexed_cases(copy)
    assert copy / first not in parsed and copy / second in parsed
    # as grading reads it: the head vouches for the file's bytes, not for an entry that holds another checksum
    assert read_index(copy, index_head(copy)[3])[0].keys() == parsed.keys()
    by_path = {c.path: c for c in load_cases(copy, graded_only=True, parsed=parsed)}
    assert by_path[copy / first].name != by_path[copy / second].name


def test_indexing_refuses_a_fixture_grading_would_refuse(tmp_path: Path) -> None:
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    broken = sorted(copy.glob("*.yaml"))[1]
    broken.write_text(broken.read_text(encoding="utf-8").replace("visibility: visible", "visibility: sometimes"),
                      encoding="utf-8")
    with pytest.raises(FixtureError, match=broken.name):
        write_index(copy)
    assert not (copy / INDEX_NAME).exists()  # nothing half-written


def test_index_command_and_grading_with_it(tmp_path: Path) -> None:
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    done = subprocess.run([sys.executable, "-m", "autograder", "index", str(copy)], cwd=PROJECT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert f"Indexed {len(list(copy.glob('*.yaml')))} fixture(s)" in done.stdout
    assert [p.name for p in copy.iterdir() if p.name.endswith(".tmp")] == []
    missing = subprocess.run([sys.executable, "-m", "autograder", "index", str(tmp_path / "nowhere")], cwd=PROJECT,
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 2 and "fixture folder not found" in missing.stderr and "Traceback" not in missing.stderr
    # the same results, message for message, with the index and without it
    submission = SUBMISSIONS / "mistakes" / "diagonal_only.py"
    with_index = grade(submission, fixtures=copy, problem=SOFTMAX)
    (copy / INDEX_NAME).unlink()
    without = grade(submission, fixtures=copy, problem=SOFTMAX)
    assert [(c.name, c.score, c.message) for c in with_index.checks] == \
        [(c.name, c.score, c.message) for c in without.checks]
    assert with_index.score < with_index.max_score


def test_setup_indexes_the_deployed_fixtures() -> None:
    """Gradescope's build step indexes test_cases/ (after compiling the grader), with the venv's Python."""
    setup = (PROJECT / "setup.sh").read_text()
    assert '-m autograder index "$SOURCE/test_cases"' in setup
    assert setup.index("compileall") < setup.index("autograder index")
    assert INDEX_NAME in (PROJECT / ".gitignore").read_text()


def test_run_autograder_grades_alike_with_the_deployed_index(tmp_path: Path) -> None:
    """End to end, as Gradescope runs it (as root: in the sandbox), with test_cases/ indexed as setup.sh leaves it."""
    from helpers import make_root, run_autograder

    submission = SUBMISSIONS / "mistakes" / "diagonal_only.py"
    documents = []
    for indexed in (False, True):
        root = make_root(tmp_path / str(indexed), submission)
        if indexed:
            write_index(root / "source" / "test_cases")
        results, proc = run_autograder(root)
        assert proc.returncode == 0, proc.stderr
        assert [p.name for p in (root / "results").iterdir()] == ["results.json"]
        documents.append([(t["name"], t["score"], t["output"]) for t in results["tests"]])
    assert documents[0] == documents[1] and any(score == 0 for _, score, _ in documents[0])


def test_grading_reads_an_entry_whose_file_is_unchanged(tmp_path: Path) -> None:
    """The index is really what grading reads (for a file whose bytes match): a document changed in the index
    alone shows in the case. (Only who may write the fixtures may write the index: see fixture_index.py.)"""
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    index = _read(copy)
    name = sorted(index["files"])[0]
    index["files"][name]["case"] = _with_field(index["files"][name]["case"], "description", "Read from the index.")
    _write(copy, index)
    cases = load_cases(copy, graded_only=True, parsed=indexed_cases(copy))
    assert next(c for c in cases if c.path == copy / name).description == "Read from the index."
    assert next(c for c in load_cases(copy, graded_only=True) if c.path == copy / name).description != \
        "Read from the index."


def test_an_entry_grading_cannot_read_falls_back_to_its_yaml(tmp_path: Path) -> None:
    """An entry that cannot be rebuilt (written by other code under the same format, or damaged) costs speed,
    not the grading: that file is read from its YAML, and nothing the entry names is built."""
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    index = _read(copy)
    first, second, third = sorted(index["files"])[:3]
    index["files"][first]["case"] = index["files"][first]["case"][:2] + ((),)  # no fields at all
    index["files"][second]["case"] = ("D", "Path", ("/etc/passwd",))  # a class it does not rebuild
    index["files"][third]["case"] = _with_field(index["files"][third]["case"], "tolerance", ("X", 1))
    _write(copy, index)
    parsed = indexed_cases(copy)
    assert {copy / first, copy / second, copy / third} & set(parsed) == set()
    assert len(parsed) == len(index["files"]) - 3
    for a, b in zip(load_cases(copy, graded_only=True), load_cases(copy, graded_only=True, parsed=parsed)):
        _same_case(a, b)


def test_the_head_says_what_the_hosts_need_while_the_first_fixture_is_unchanged(tmp_path: Path) -> None:
    """The index's head: the first fixture's limits and every fixture's (file, class), as the YAML says them,
    read without the cases; nothing once the first fixture changed (its limits may have)."""
    from autograder.fixtures import load_case, problems_of

    copy = _copy(HOMEWORK_FIXTURES, tmp_path)
    write_index(copy)
    first = sorted(copy.glob("*.yaml"))[0]
    path, limits, problems, verified = index_head(copy)
    assert path == first and limits == load_case(first, graded_only=True).limits
    assert problems == problems_of(copy) and len(problems) > 1
    assert set(verified) == {p.name for p in copy.glob("*.yaml")} | {f"feedback/{p.name}" for p in copy.glob("feedback/*")}
    first.write_text(first.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert index_head(copy) is None


def test_a_head_written_for_other_fixture_classes_vouches_for_nothing(tmp_path: Path) -> None:
    """An index written before the fixture classes changed (the grader updated, not the index) is ignored from
    its head on: as root, grading imports PyYAML before student code runs, and reads every file from it."""
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    index = _read(copy)
    assert index["fields"] == layout()
    index["fields"] = tuple((name, fields[:-1]) for name, fields in index["fields"])
    _write(copy, index)
    assert index_head(copy) is None and indexed_cases(copy) == {}


def test_names_in_the_head_outside_the_folder_or_unreadable_are_vouched_for_by_nothing(tmp_path: Path) -> None:
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    index = _read(copy)
    outside = ["a\0b.yaml", "../x.yaml", "feedback/../../etc/passwd", "/etc/passwd", "feedback/..", "", "..",
               "feedback/../01.yaml", 7, ("a",)]
    index["checksums"].update({name: "1:00000000" for name in outside})
    _write(copy, index)
    head = index_head(copy)
    assert head is not None and not set(head[3]) & set(outside)
    assert len(read_index(copy, head[3])[0]) == len(list(copy.glob("*.yaml")))


@pytest.mark.parametrize("edited", ["a fixture", "a feedback file", "nothing"])
def test_grading_reads_no_yaml_only_while_every_file_it_reads_is_indexed_as_it_is(tmp_path: Path, edited: str) -> None:
    """index_covers: every fixture and every feedback file has its indexed bytes, so grading needs no PyYAML
    (as root, grade.import_late_modules imports it before student code runs otherwise); the feedback is then
    read from the index, exactly as from its YAML."""
    import yaml

    from autograder.fixture_index import index_covers
    from autograder.fixtures import fixture_files

    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    feedback = sorted(copy.glob("feedback/*.yaml"))
    target = {"a fixture": sorted(copy.glob("*.yaml"))[-1], "a feedback file": feedback[0], "nothing": None}[edited]
    if target is not None:
        target.write_text(target.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    verified = index_head(copy)[3]
    assert index_covers(copy, fixture_files(copy), verified) == (target is None)
    cases, documents = read_index(copy, verified)
    assert len(cases) == len(fixture_files(copy)) - (edited == "a fixture")
    assert set(documents) == set(feedback) - {target}
    for path, document in documents.items():
        assert document == yaml.safe_load(path.read_text(encoding="utf-8"))


def test_a_feedback_file_that_grading_would_refuse_is_refused_when_indexing(tmp_path: Path) -> None:
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    feedback = sorted(copy.glob("feedback/*.yaml"))[0]
    feedback.write_text("mistakes: {not: a list}\n", encoding="utf-8")
    with pytest.raises(FixtureError, match=f"{feedback.name}.*mistakes: should be a list"):
        write_index(copy)
    assert not (copy / INDEX_NAME).exists()


def test_a_grading_of_indexed_fixtures_imports_no_yaml(tmp_path: Path) -> None:
    """What makes the index worth its while (about 8 ms a grading): a correct submission graded from indexed
    fixtures never imports PyYAML; with one fixture edited since, it does (that file is read from its YAML)."""
    copy = _copy(DEFAULT_FIXTURES, tmp_path)
    write_index(copy)
    code = ("import sys\nfrom pathlib import Path\nfrom autograder.grade import grade_submission\n"
            f"result = grade_submission(Path({str(PROJECT / 'reference')!r}), fixtures=Path({str(copy)!r}))\n"
            "print(result.score == result.max_score, 'yaml' in sys.modules)\n")

    def run() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=120)

    assert run().stdout.split() == ["True", "False"]
    last = sorted(copy.glob("*.yaml"))[-1]
    last.write_text(last.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    assert run().stdout.split() == ["True", "True"]


def test_equal_parts_of_cases_are_rebuilt_once_and_never_shared_when_they_could_change(tmp_path: Path) -> None:
    """Steps (frozen, plain) are shared by the checks that repeat them; a check, an array, a dict is always a
    case's own (grading tells checks apart by identity, and an array changed in one case must not change
    another's)."""
    copy = _copy(HOMEWORK_FIXTURES, tmp_path)
    write_index(copy)
    cases = list(indexed_cases(copy).values())
    steps = [step for case in cases for check in case.checks for step in check.steps]
    assert len({id(step) for step in steps}) < len(steps)
    checks = [check for case in cases for check in case.checks]
    assert len({id(check) for check in checks}) == len(checks)
    arrays = [array for case in cases for part in (case.inputs, case.expected) for array in part.values()]
    assert len({id(array) for array in arrays}) == len(arrays) and all(a.flags.writeable for a in arrays)
    values = [step.value for step in steps if isinstance(step.value, (dict, list))]
    assert values and len({id(step) for step in steps if isinstance(step.value, (dict, list))}) == len(values)
