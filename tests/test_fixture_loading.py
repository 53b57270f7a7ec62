"""The fast reader of fixture arrays gives exactly what PyYAML gives, or steps aside for PyYAML."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from autograder import fixtures
from autograder.errors import FixtureError
from autograder.paths import DEFAULT_FIXTURES

FILES = sorted(DEFAULT_FIXTURES.glob("*.yaml"))
EXAMPLE = (DEFAULT_FIXTURES / "01_writeup_example.yaml").read_text(encoding="utf-8")


def _same_document(fast: dict, full: dict) -> None:
    assert fast == full
    for section in ("inputs", "expected"):
        for name, value in full[section].items():
            assert np.array(fast[section][name]).tobytes() == np.array(value).tobytes()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_generated_fixture_takes_the_fast_path_bit_for_bit(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = fixtures._fast_document(text)
    assert fast is not None, "a generated fixture should not need PyYAML's float constructor"
    _same_document(fast, fixtures.load_yaml(text))


def _load_both(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """load_case with and without the fast reader: the case, or the error message."""
    path = tmp_path / "01_case.yaml"
    path.write_text(text, encoding="utf-8")

    def attempt() -> object:
        try:
            case = fixtures.load_case(path)
        except FixtureError as exc:
            return str(exc)
        return (case.name, {k: (v.shape, v.tobytes()) for k, v in {**case.inputs, **case.expected}.items()})

    fast = attempt()
    with monkeypatch.context() as patch:
        patch.setattr(fixtures, "_fast_document", lambda *args: None)
        full = attempt()
    return fast, full


VARIANTS = {
    # metadata (read an entry at a time on the fast path)
    "document start": "---\n" + EXAMPLE,
    "directive": "%YAML 1.1\n---\n" + EXAMPLE,
    "comment between entries": EXAMPLE.replace("tolerance:\n", "# a note\ntolerance:\n"),
    "anchor used by another entry": EXAMPLE.replace("tolerance:\n", "tolerance: &tol\n").replace(
        "inputs:\n", "extra: *tol\ninputs:\n"),
    "anchor within an entry": EXAMPLE.replace("tolerance:\n  rtol: 1.0e-05\n  atol: 1.0e-06\n",
                                              "tolerance: {rtol: &r 1.0e-05, atol: *r}\n"),
    "key given twice": EXAMPLE.replace("visibility: visible\n", "visibility: hidden\nvisibility: visible\n"),
    "two keys on one entry's lines": EXAMPLE.replace("tags: [writeup]\n", "tags: [writeup]\n  oops: 1\n"),
    "list at the top": "- 1\n" + EXAMPLE,
    # arrays
    "comment in the arrays": EXAMPLE.replace("  dLdA:\n", "  # a note\n  dLdA:\n"),
    "number without a dot": EXAMPLE.replace("[0.01, -0.03, 0.02]", "[1e-2, -0.03, 0.02]"),
    "integer": EXAMPLE.replace("[0.01, -0.03, 0.02]", "[1, -0.03, 0.02]"),
    "infinity": EXAMPLE.replace("[0.01, -0.03, 0.02]", "[.inf, -0.03, 0.02]"),
    "ragged rows": EXAMPLE.replace("  - [0.10000000000000003, 0.2, 0.7]\n",
                                   "  - [0.10000000000000003, 0.2, 0.7]\n  - [0.5]\n"),
    "empty row": EXAMPLE.replace("[0.01, -0.03, 0.02]", "[]"),
    "boolean name": EXAMPLE.replace("  J:\n", "  on:\n"),
    "one-dimensional": EXAMPLE.replace("  dLdA:\n  - [0.01, -0.03, 0.02]\n", "  dLdA: [0.01, -0.03, 0.02]\n"),
    "name repeated": EXAMPLE.replace("  dLdA:\n", "  Z:\n"),
    "inputs twice": EXAMPLE + "inputs:\n  Q:\n  - [1.0]\n",
    "bad indentation": EXAMPLE.replace("    - [-0.020000000000000007, 0.16", "   - [-0.020000000000000007, 0.16"),
    "continuation first": EXAMPLE.replace("  - - [0.09000000000000002", "    - [0.09000000000000002"),
    "no inputs": EXAMPLE.split("inputs:\n")[0],
    "arrays before the metadata": EXAMPLE.split("inputs:\n")[1].split("expected:\n")[0].join(["inputs:\n", ""])
    + EXAMPLE.split("inputs:\n")[0],
    "tab": EXAMPLE.replace("  - [0.01, -0.03, 0.02]", "  -\t[0.01, -0.03, 0.02]"),
    "not a mapping": "- 1.0\n" + "inputs:\n  Z:\n  - [1.0]\n",
    "three dimensions": EXAMPLE.replace("  - - [0.09000000000000002", "  - - - [0.09000000000000002"),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_hand_edited_fixtures_read_as_pyyaml_reads_them(name: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    fast, full = _load_both(tmp_path, VARIANTS[name], monkeypatch)
    assert fast == full


def test_three_dimensional_arrays_nest_as_pyyaml_nests_them() -> None:
    text = ("name: x\ninputs:\n  T:\n  - - [1.0, 2.0]\n    - [3.0, 4.0]\n  - - [5.0, 6.0]\n    - [7.0, 8.0]\n"
            "  U:\n  - - - [1.5]\n      - [2.5]\n    - - [3.5]\n      - [4.5]\nexpected:\n  V: [0.5, -0.0]\n")
    fast = fixtures._fast_document(text)
    assert fast is not None
    _same_document(fast, fixtures.load_yaml(text))
    assert np.array(fast["inputs"]["U"]).shape == (1, 2, 2, 1)


@pytest.mark.parametrize("fast", [True, False], ids=["fast reader", "PyYAML"])
def test_grading_reads_every_array_it_uses_and_no_other(fast: bool, tmp_path: Path) -> None:
    text = EXAMPLE if fast else EXAMPLE.replace("  dLdA:\n", "  # a note\n  dLdA:\n")  # a comment: PyYAML reads it
    path = tmp_path / "01_case.yaml"
    path.write_text(text, encoding="utf-8")
    assert (fixtures._fast_document(text) is not None) == fast
    full, graded = fixtures.load_case(path), fixtures.load_case(path, graded_only=True)
    assert sorted(full.expected) == ["A", "J", "dLdZ"] and sorted(graded.expected) == ["A", "dLdZ"]
    for name, array in graded.expected.items():
        assert array.tobytes() == full.expected[name].tobytes()
    assert {k: v.tobytes() for k, v in graded.inputs.items()} == {k: v.tobytes() for k, v in full.inputs.items()}
    assert graded.checks == full.checks


def test_metadata_shared_by_the_fixtures_of_a_folder_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    texts: list[str] = []
    load = yaml.load
    monkeypatch.setattr(yaml, "load", lambda text, Loader: texts.append(text) or load(text, Loader=Loader))
    cases = fixtures.load_cases(DEFAULT_FIXTURES)
    assert len(texts) == len(set(texts))  # no entry read twice
    assert sum("checks:" in t for t in texts) < len(cases)  # cases with the same checks share them
    assert len({id(c.limits) for c in cases}) == len(cases)  # and get their own copies


HW1P1_FILES = sorted((DEFAULT_FIXTURES.parent / "examples" / "hw1p1" / "test_cases").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES + HW1P1_FILES, ids=lambda p: f"{p.parent.parent.name}/{p.name}")
def test_metadata_read_without_pyyaml_is_what_pyyaml_reads(path: Path) -> None:
    """The checks entry and one-line entries are read without PyYAML when in the dumper's form (every
    generated fixture's checks are): the same values, of the same types."""
    text = path.read_text(encoding="utf-8")
    head = text.split("\ninputs:\n")[0].split("\n")
    entries: list[list[str]] = []
    for line in head:
        if line[:1] not in (" ", "-", "#", ""):
            entries.append([line])
        elif entries:
            entries[-1].append(line)
    checks = [e for e in entries if e[0] == "checks:"]
    assert checks and fixtures._fast_checks(checks[0]) is not None
    for entry in entries:
        fast = fixtures._fast_checks(entry) if entry[0] == "checks:" else \
            fixtures._fast_entry(entry[0]) if len(entry) == 1 else None
        if fast is not None:
            full = fixtures.load_yaml("\n".join(entry) + "\n")
            assert fast == full and repr(fast) == repr(full)


@pytest.mark.parametrize("text, value", [
    ("{a: yes}", {"a": True}), ("{a: Y}", {"a": "Y"}), ("[1, 2.0, -3, 1.5e+3]", [1, 2.0, -3, 1500.0]),
    ("{a: 'x y', b: [c, {d: null}]}", {"a": "x y", "b": ["c", {"d": None}]}),
] + [(text, None) for text in ("{a: 1e5}", "{a: 'x''y'}", "{a: 1_0}", "{a: .5}", "{on: x}", "{a: ~}", "{a: 01}",
                               "{a: b#c}", "{a: b, a: c}", "{a: x y}", "{a:b}", "{a: 1.}", "{a: 0x1}", "{a: 1:20}",
                               "{a: 2.0E-1}", "{a: +1}", "{a: }")])
def test_flow_values_outside_the_plain_form_are_left_to_pyyaml(text: str, value: object) -> None:
    fast, ok = fixtures._flow(text)
    assert ok == (value is not None) and fast == value
    if ok:
        assert fast == fixtures.load_yaml(text)
