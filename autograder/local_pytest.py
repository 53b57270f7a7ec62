"""pytest plugin of the student handout: the visible tests as ordinary pytest tests.

The handout's ``conftest.py`` loads it (``pytest_plugins = ["autograder.local_pytest"]``).
Each fixture in ``test_cases/`` becomes one pytest test per check, named
after the case (``test_small_batch_forward``), with the method, the
problem's name and the case's tags as keywords, so ``-k forward``, ``-k softmax``
or ``-k stability`` select the obvious subsets. Tests are graded exactly as ``python -m autograder`` grades
them (same sandbox, same messages): the selected checks are graded once,
before the first test runs, and each test then reports its own result.

What the student's code printed during a check (its warnings too, such as
NumPy's "overflow encountered in exp") is printed by that check's test, so
pytest shows it as the test's captured output ("Captured stdout call" under
a failure, in full with ``-s``, for passed tests with ``-rP``). Grading
happens outside pytest's per-test warning capture: a worker forked inside it
would inherit pytest's recorder, and its warnings would never be printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sys

import pytest

from .errors import AutograderError
from .fixtures import load_case
from .grade import check_name, grade_submission
from .paths import DEFAULT_FIXTURES, PROJECT_ROOT
from .results import CheckResult

_GRADED = pytest.StashKey[dict]()
_FAILED = pytest.StashKey[str]()  # why grading could not be done, said by every test


class CheckFailed(Exception):
    """A check failed; the message is the grader's feedback."""


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """Fixture files (test_cases/*.yaml) are test files."""
    if file_path.suffix == ".yaml" and file_path.parent == DEFAULT_FIXTURES:
        return FixtureFile.from_parent(parent, path=file_path)
    return None


class FixtureFile(pytest.File):
    """One case: one test per check."""

    def collect(self):  # noqa: ANN201 - pytest's own type
        case = load_case(self.path)
        for check in case.checks:
            item = CheckItem.from_parent(self, name=f"test_{case.name}_{check.method}", check=check_name(case, check))
            item.extra_keyword_matches.update({check.method, case.name, case.problem.name, *case.tags})
            yield item


class CheckItem(pytest.Item):
    """One graded check of the student's code."""

    def __init__(self, *, check: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.check = check

    def runtest(self) -> None:
        result = _results(self.session).get(self.check)
        if result is None:
            raise CheckFailed(f"{self.check}: not graded")
        if result.output.strip():  # captured by pytest as this test's output
            sys.stdout.write(f"\n--- output printed by your code ({self.check}) ---\n" + result.output.rstrip("\n") + "\n")
            sys.stdout.flush()
        if not result.passed:
            raise CheckFailed(result.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, self.check


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Grade before the first test, outside any test's warning capture (see the module's docstring)."""
    if not session.config.option.collectonly and any(isinstance(item, CheckItem) for item in session.items):
        try:
            _results(session)
        except CheckFailed:
            pass  # each test says why


def _results(session: pytest.Session) -> dict[str, CheckResult]:
    """Grade every selected check once (one sandbox for all), at the first test that needs it.

    Once, whatever happens: when grading cannot be done (bad input, a system
    the sandbox refuses), every test fails with that one line, and it is not
    tried again for the next test.
    """
    stash = session.config.stash
    if _FAILED in stash:
        raise CheckFailed(stash[_FAILED])
    if _GRADED not in stash:
        selected = {item.check for item in session.items if isinstance(item, CheckItem)}
        try:
            result = grade_submission(PROJECT_ROOT, fixtures=DEFAULT_FIXTURES, only=selected)
        except AutograderError as exc:
            stash[_FAILED] = f"error: {exc}"
            raise CheckFailed(stash[_FAILED]) from None
        except Exception as exc:  # noqa: BLE001 - a bug of ours: said once, not once per test
            stash[_FAILED] = (f"error: the autograder itself failed ({type(exc).__name__}: {exc}); please report it, "
                              "with the output of `python -m autograder`")
            raise CheckFailed(stash[_FAILED]) from None
        stash[_GRADED] = {c.name: c for c in result.checks}
    return stash[_GRADED]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """The points of the tests that ran, like the last line of `python -m autograder`."""
    graded = config.stash.get(_GRADED, None)
    if graded:
        score = sum(c.score for c in graded.values())
        total = sum(c.max_score for c in graded.values())
        terminalreporter.write_line(f"Total: {score:g}/{total:g} (the tests that ran)")
