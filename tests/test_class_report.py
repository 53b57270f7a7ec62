"""The class report (`regrade EXPORT --out DIR` writes DIR/report.html): its numbers, and the page in a browser.

The class is tests/class_export.py: correct code, typical mistakes, broken
submissions and a hang, so each count the report shows is known exactly.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.class_stats import Submission, class_stats, mistakes_named, not_graded_reason
from class_export import (CLASS, EXPECTED_MISTAKES, EXPECTED_NOT_GRADED, EXPECTED_UNDIAGNOSED, build_export,
                          short_limits_config)
from helpers import PROJECT

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install "
                                                             "chromium; .ci/run installs it when it can)")

# Put into a copy of the page: records script errors in the DOM, then sorts the submissions by score.
ERROR_PROBE = """<script>window.__errors = [];
window.addEventListener("error", function (e) { window.__errors.push(String(e.message)); });</script>"""
SORT_PROBE = """<script>
document.querySelector("#submission-table th:nth-child(3)").click();
document.querySelector("#submission-table th:nth-child(3)").click();
var order = Array.prototype.map.call(document.querySelectorAll("#submission-table tbody tr"),
                                     function (r) { return r.dataset.submission; });
document.body.setAttribute("data-sorted", order.join(" "));
document.body.setAttribute("data-errors", String(window.__errors.length) + ":" + window.__errors.join("|"));
</script>"""


@pytest.fixture(scope="module")
def regraded(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("class")
    export, out = build_export(root), root / "out"
    proc = subprocess.run([sys.executable, "-m", "autograder", "regrade", str(export), "--out", str(out),
                           "--config", str(short_limits_config(root)), "--jobs", "2"],
                          cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"and {out / 'report.html'}" in proc.stdout
    return out


def chromium(page: Path, *args: str) -> subprocess.CompletedProcess:
    """Headless Chromium on a local page, with a fresh profile and console messages on stderr."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr",
                               "--v=0", *args, page.as_uri()], capture_output=True, text=True, timeout=120)


def _count(html: str, pattern: str) -> str:
    found = re.search(pattern, html, re.S)
    assert found, pattern
    return found.group(1)


def mistake_counts(html: str) -> dict[str, int]:
    """Students per mistake, as the report's mistake table shows them."""
    return {name: int(n) for name, n in re.findall(
        r'<tr data-mistake="(\w+)">.*?<td class="num students">(\d+)</td>', html, re.S)}


def test_report_counts_each_mistake_by_the_students_who_made_it(regraded):
    html = (regraded / "report.html").read_text()
    assert mistake_counts(html) == EXPECTED_MISTAKES
    assert _count(html, r'class="undiagnosed" data-tests="\d+" data-students="(\d+)"') == str(len(EXPECTED_UNDIAGNOSED))
    for name in EXPECTED_UNDIAGNOSED:
        assert name in _count(html, r'Failures not diagnosed:(.*?)</p>')
    assert _count(html, r'id="card-not-graded"><b>(\d+)</b>') == str(len(EXPECTED_NOT_GRADED))
    assert _count(html, r'id="card-submissions"><b>(\d+)</b>') == str(len(CLASS))
    not_graded = _count(html, r'<table class="not-graded">(.*?)</table>')
    assert re.findall(r"submission_\d+", not_graded) == [n for n in EXPECTED_NOT_GRADED for _ in "ab"]  # link, text
    assert "SyntaxError" in not_graded and "no activation.py found" in not_graded
    limits = _count(html, r'<table class="limits">(.*?)</table>')
    assert "call time limit" in limits and "time budget" in limits and set(re.findall(r"submission_\d+", limits)) \
        == {"submission_16"}


def test_report_numbers_agree_with_the_regraded_results(regraded):
    """The report's counts are recomputed here from regrade-results/, each submission's results.json."""
    documents = {p.stem: json.loads(p.read_text()) for p in (regraded / "regrade-results").glob("*.json")}
    assert set(documents) == set(CLASS)
    students: dict[str, set[str]] = {}
    for name, document in documents.items():
        for test in document["tests"]:
            for mistake in mistakes_named(test):
                students.setdefault(mistake, set()).add(name)
    assert {m: len(s) for m, s in students.items()} == EXPECTED_MISTAKES
    summary = json.loads((regraded / "regrade.json").read_text())
    assert summary["overall"]["report"] == "report.html"
    mean = _count((regraded / "report.html").read_text(), r'id="card-mean"><b>([\d.]+)</b>')
    assert abs(float(mean) - summary["overall"]["mean_score"]) < 0.051


def test_report_is_one_self_contained_file(regraded):
    html = (regraded / "report.html").read_text()
    assert html.count("<svg") >= 3 and {"scores", "rates-1", "mistakes-1"} <= set(re.findall(r'data-figure="([\w-]+)"', html))
    assert not re.search(r"<link|<img|@import|url\((?!#)|<script[^>]*\bsrc=", html), "nothing may be loaded from elsewhere"
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) > 20 and len(ids) == len(set(ids)), "each figure's ids are its own"
    references = {a or b for a, b in re.findall(r'url\(#([^)]+)\)|href="#([^"]+)"', html)}
    assert references and references <= set(ids)
    assert not re.search(r'(?:src|href)="(?:https?:)?//', html)
    links = re.findall(r'<a href="([^"]+)"', html)
    assert len(links) == len(CLASS) + len(EXPECTED_NOT_GRADED)
    assert all((regraded / link).is_file() for link in links)  # each submission's results.json


@needs_chromium
def test_report_renders_in_chromium_without_errors(regraded, tmp_path):
    page = tmp_path / "report.html"
    html = (regraded / "report.html").read_text()
    page.write_text(html.replace("<head>", "<head>" + ERROR_PROBE, 1).replace("</body>", SORT_PROBE + "</body>", 1))
    proc = chromium(page, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert ":CONSOLE" not in proc.stderr, [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert 'data-errors="0:"' in dom
    assert len(re.findall(r"<svg[^>]*data-figure=", dom)) >= 3
    assert mistake_counts(dom) == EXPECTED_MISTAKES
    assert 'data-students="3"' in dom
    # the page's own script sorted the table: descending score, full marks first, zeros last
    order = _count(dom, r'data-sorted="([^"]*)"').split()
    assert sorted(order) == sorted(CLASS) and order[:3] == sorted(order[:3]) and set(order[:3]) == {
        "submission_01", "submission_02", "submission_03"} and order[-1] in EXPECTED_NOT_GRADED + ["submission_11"]


@needs_chromium
def test_report_screenshot_shows_the_figures(regraded, tmp_path):
    """A real render: the screenshot is a tall, mostly white page with colour in it (the figures' bars)."""
    shot = tmp_path / "shot.png"
    proc = chromium(regraded / "report.html", f"--screenshot={shot}", "--window-size=1000,1800", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    blue = ((pixels[..., 2] > 0.5) & (pixels[..., 0] < 0.35)).mean()
    assert pixels.shape[:2] == (1800, 1000) and blue > 0.01  # the histogram's and the bars' blue


def test_without_matplotlib_regrade_still_writes_csv_and_json_and_says_how_to_get_the_report(tmp_path):
    export = tmp_path / "export"
    shutil.copytree(PROJECT / "reference", export / "submission_1", ignore=shutil.ignore_patterns("__pycache__"))
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    (shadow / "matplotlib.py").write_text("raise ImportError('matplotlib hidden by the test')\n")
    (export / "report.html").write_text("stale")  # from an earlier run: must not be mistaken for this one's
    proc = subprocess.run([sys.executable, "-m", "autograder", "regrade", str(export), "--jobs", "1"], cwd=PROJECT,
                          capture_output=True, text=True, timeout=120, env={"PYTHONPATH": str(shadow),
                                                                              "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert (export / "regrade.csv").is_file() and (export / "regrade.json").is_file()
    assert not (export / "report.html").exists()
    hint = [line for line in proc.stdout.splitlines() if "report" in line and "Wrote" not in line]
    assert hint == ["No class report (report.html): matplotlib is not installed "
                    "(pip install -r autograder/requirements-instructor.txt)"]
    assert json.loads((export / "regrade.json").read_text())["overall"]["report"] is None


def _submission(name: str, tests: list[dict], **kwargs) -> Submission:
    return Submission(name=name, people=(), score=kwargs.get("score", 0.0), max_score=10.0, previous=None,
                      seconds=0.1, tests=tuple(tests), error=kwargs.get("error", ""))


def _test(name: str, status: str, mistakes: list[str] | None = None, output: str = "") -> dict:
    test = {"name": name, "number": "1.1", "status": status, "score": 0.0, "max_score": 5.0, "output": output,
            "visibility": "visible"}
    if mistakes is not None:
        test["extra_data"] = {"mistakes": mistakes}
    return test


def test_a_mistake_counts_once_per_student_and_per_problem():
    problems = {"a: forward (A)": "Softmax", "b: forward (A)": "Softmax", "c: forward (Y)": "ReLU"}
    subs = [_submission("s1", [_test("a: forward (A)", "failed", ["wrong_axis"]),
                               _test("b: forward (A)", "failed", ["wrong_axis"]), _test("c: forward (Y)", "passed")]),
            _submission("s2", [_test("a: forward (A)", "failed", ["wrong_axis"]), _test("b: forward (A)", "failed"),
                               _test("c: forward (Y)", "failed", ["not_in_catalogue"])]),
            _submission("s3", [_test(n, "failed", output="Your file could not be imported: SyntaxError") for n in problems])]
    stats = class_stats(subs, problems)
    assert [p.name for p in stats.problems] == ["Softmax", "ReLU"]
    softmax, relu = stats.problems
    assert [(m.name, m.students, m.tests) for m in softmax.mistakes] == [
        ("wrong_axis", 2, ("a: forward (A)", "b: forward (A)"))]
    assert softmax.undiagnosed_tests == 1 and softmax.undiagnosed_submissions == ("s2",)
    assert [(m.name, m.students, m.hint) for m in relu.mistakes] == [("not_in_catalogue", 1, "")]
    assert stats.not_graded == (("s3", "Your file could not be imported: SyntaxError"),)
    assert [(t.name, t.passed, t.graded) for t in relu.tests] == [("c: forward (Y)", 1, 2)]  # s3 not counted


@pytest.mark.parametrize("extra", [None, "text", {"mistakes": "wrong_axis"}, {"other": 1}])
def test_results_without_mistake_names_are_read_as_naming_none(extra):
    assert mistakes_named({"extra_data": extra}) == []


def test_a_submission_with_any_test_that_ran_was_graded():
    ran = _submission("s", [_test("a", "failed", output="Your file could not be imported: X"),
                            _test("b", "failed", output="forward (the returned A) has the wrong shape")])
    assert not_graded_reason(ran) is None
    assert not_graded_reason(_submission("t", [], error="timed out after 600 s")) == "grader error: timed out after 600 s"


def test_the_class_report_ships_neither_to_gradescope_nor_to_students():
    from autograder.package import grader_files

    shipped = set(grader_files())
    assert "autograder/regrade.py" not in shipped and "autograder/grade.py" in shipped
    assert not {f for f in shipped if f.startswith("autograder/class_")}
