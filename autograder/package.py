"""`python -m autograder package --out DIR`: autograder.zip for Gradescope and handout.zip for students.

autograder.zip holds what Gradescope runs and nothing more: ``setup.sh`` and
``run_autograder`` at its root, the grading modules, every fixture and the
pinned requirements (no tests, benchmarks, reference or config: the
fixtures carry the limits and the policy).

handout.zip holds the template as ``mytorch/...``, the visible fixtures the
config ships, the local runner (the grading modules), a pytest plugin, and a
student README. The problems' feedback (test_cases/feedback/) goes to the
handout without what would give a solution away: each mistake's ``value``
expression is replaced by what it returns on the visible tests (stored
beside it, NAME.npz), and the speed note, which times a correct expression,
is left out.

Nothing is written until every check passes: the fixtures are what
``generate`` writes; the handout holds no line of reference code, no
withheld fixture, and none of their names or values; and both zips, unpacked
in a temporary folder, grade the template to zero and the reference to full
marks (the handout by ``python -m autograder`` and ``python -m pytest``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from .config import Assignment, load_assignment
from .errors import AutograderError
from .feedback import FEEDBACK_DIR, STORED_SUFFIX, Feedback, case_arrays, feedback_path, inputs_key, load_feedback
from .fixtures import Case, load_cases
from .generate import build_cases, stale_fixtures
from .paths import PROJECT_ROOT

PACKAGE_DIR = PROJECT_ROOT / "autograder"
# The instructors' tools and inputs: never needed to grade, never shipped.
INSTRUCTOR_ONLY = {"assignment.yaml", "requirements-instructor.txt", "audit.py", "generate.py", "independent.py",
                   "package.py", "regrade.py",
                   "class_stats.py", "class_figures.py", "class_page.py", "class_report.html"}  # the last four: the class report
HANDOUT_ONLY = {"local_pytest.py"}
GRADESCOPE_ROOT_FILES = ("setup.sh", "run_autograder")
EXECUTABLE = {"setup.sh", "run_autograder"}
# Requirements Gradescope does not need (setup.sh installs the rest).
NOT_FOR_GRADESCOPE = {"pytest"}
# A line of reference code at least this long (spaces collapsed) that the template does not also have is a leak.
MIN_LEAK_LINE = 16
# A withheld float counts as a leak when written with at least this many significant digits (no chance match).
MIN_LEAK_DIGITS = 10
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")

Files = dict[str, tuple[bytes, int]]  # path in the zip -> (content, mode)


@dataclass
class PackageReport:
    """What package wrote and checked."""

    autograder_zip: Path
    handout_zip: Path
    autograder_files: list[str]
    handout_files: list[str]
    shipped_cases: list[str]
    withheld_cases: list[str]
    checks: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"Wrote {self.autograder_zip} ({len(self.autograder_files)} files: setup.sh, run_autograder, the "
                 f"grader, {len(self.shipped_cases) + len(self.withheld_cases)} fixtures)",
                 f"Wrote {self.handout_zip} ({len(self.handout_files)} files: the template, "
                 f"{len(self.shipped_cases)} visible fixtures, the local runner, README.md; "
                 f"{len(self.withheld_cases)} fixtures withheld)", "Checked before writing:"]
        return "\n".join(lines + [f"  {line}" for line in self.checks])


# -- what goes in ------------------------------------------------------------------------------

def grader_files(package_dir: Path = PACKAGE_DIR) -> Files:
    """The grading modules (autograder/**/*.py), without the instructors' tools and the handout's plugin."""
    files: Files = {}
    for path in sorted(package_dir.rglob("*.py")):
        rel = path.relative_to(package_dir)
        if "__pycache__" in rel.parts or (len(rel.parts) == 1 and rel.name in INSTRUCTOR_ONLY | HANDOUT_ONLY):
            continue
        files[f"autograder/{rel.as_posix()}"] = (path.read_bytes(), 0o644)
    return files


def requirements_for_gradescope(text: str) -> str:
    """The pinned requirements minus what only students and tests use."""
    kept = [line for line in text.splitlines()
            if re.split(r"[=<>~! \[]", line.strip(), maxsplit=1)[0].lower() not in NOT_FOR_GRADESCOPE]
    return "\n".join(kept) + "\n"


def with_packages(requirements: str, packages: Iterable[str]) -> str:
    """The requirements plus the extra packages the assignment lets students import (config `packages`), which
    setup.sh and the student's `pip install -r requirements.txt` then install; nothing added when there are none."""
    extra = [p for p in packages if p not in requirements.splitlines()]
    if not extra:
        return requirements
    return requirements.rstrip("\n") + "\n# the assignment's extra packages, which students may import\n" + "\n".join(extra) + "\n"


def autograder_files(cases: list[Case], root: Path = PROJECT_ROOT, packages: Iterable[str] = ()) -> Files:
    """Everything in autograder.zip."""
    files = grader_files(root / "autograder")
    for name in GRADESCOPE_ROOT_FILES:
        if not (root / name).is_file():
            raise AutograderError(f"{root / name}: not found (Gradescope needs it at the root of autograder.zip)")
        files[name] = ((root / name).read_bytes(), 0o755)
    files["requirements.txt"] = (with_packages(requirements_for_gradescope((root / "requirements.txt").read_text()),
                                               packages).encode(), 0o644)
    for case in cases:
        assert case.path is not None
        files[f"test_cases/{case.path.name}"] = (case.path.read_bytes(), 0o644)
    for name, path in problem_feedback(cases).items():
        files[f"test_cases/{FEEDBACK_DIR}/{name}.yaml"] = (path.read_bytes(), 0o644)
    return files


MAX_SIGNATURE_ENTRIES = 20_000  # larger wrong outputs are left out (the kind-based hints still apply)


def problem_feedback(cases: list[Case]) -> dict[str, Path]:
    """The feedback files of these cases' problems (problem -> file), for those that have one."""
    found = {}
    for case in cases:
        assert case.path is not None
        path = feedback_path(case.path.parent, case.problem.name)
        if path.is_file():
            found[case.problem.name] = path
    return found


def mistake_signatures(shipped: list[Case], feedback: Feedback) -> bytes:
    """What each of a problem's mistakes returns on each shipped case of it, as an .npz of plain arrays.

    The handout cannot compute these (the expressions are nearly solutions),
    but needs them to recognise a mistake as Gradescope does. They are wrong
    answers on inputs the handout ships anyway: no new information.
    """
    import numpy as np

    arrays = {}
    for case in shipped:
        for mistake in feedback.mistakes:
            produced = mistake.produce(case_arrays(case))
            if isinstance(produced, np.ndarray) and produced.dtype.kind in "fiu" and produced.size <= MAX_SIGNATURE_ENTRIES:
                arrays[f"{mistake.name}__{inputs_key(case.inputs)}"] = produced.astype(np.float64)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def handout_feedback(shipped: list[Case]) -> Files:
    """The shipped problems' feedback for the handout: without the mistakes' value expressions (their values
    on the visible tests are stored beside it) and without the speed note (it times a correct expression)."""
    import yaml

    files: Files = {}
    for name, path in problem_feedback(shipped).items():
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        document.pop("efficiency", None)
        document["mistakes"] = [{k: v for k, v in m.items() if k != "value"} for m in document.get("mistakes", [])]
        text = ("# The handout's copy of this problem's feedback: what each mistake returns on the visible tests is\n"
                f"# stored in {name}{STORED_SUFFIX}. Do not edit: Gradescope uses its own copy.\n"
                + yaml.safe_dump(document, sort_keys=False, width=100, allow_unicode=True))
        files[f"test_cases/{FEEDBACK_DIR}/{name}.yaml"] = (text.encode(), 0o644)
        mine = [case for case in shipped if case.problem.name == name]
        files[f"test_cases/{FEEDBACK_DIR}/{name}{STORED_SUFFIX}"] = (mistake_signatures(mine, load_feedback(path)), 0o644)
    return files


CONFTEST = '''"""Lets `python -m pytest` run the visible tests in test_cases/ (see README.md)."""

from autograder.preflight import problem

if problem() is None:
    pytest_plugins = ["autograder.local_pytest"]
else:
    def pytest_configure(config):
        import pytest

        pytest.exit("error: " + problem(), returncode=4)
'''

PYTEST_INI = """[pytest]
testpaths = test_cases
addopts = -p no:cacheprovider
"""


def student_readme(assignment: Assignment, shipped: list[Case], withheld: list[Case]) -> str:
    """The handout's README: install, run, read the results."""
    files = ", ".join(f"`{f}`" for f in sorted({p.file for p in assignment.problems.values()}))
    classes = ", ".join(f"`{p.class_name}`" for p in assignment.problems.values())
    points = sum(c.points for case in shipped for c in case.checks)
    total = points + sum(c.points for case in withheld for c in case.checks)
    methods = list(dict.fromkeys(c.method for case in shipped for c in case.checks))
    tags = sorted({t for case in shipped for t in case.tags})
    commands = [("python -m pytest", "every visible test")]
    commands += [(f"python -m pytest -k {m}", f"the {m} tests") for m in methods]
    commands += [(f"python -m pytest -k {t}", f"the cases tagged {t}") for t in tags]
    if shipped:
        commands.append((f"python -m pytest -k {shipped[0].name}", "one case"))
    width = max(len(c) for c, _ in commands) + 2
    examples = [f"{command:<{width}}# {what}" for command, what in commands]
    hidden = (f"Gradescope runs these tests and {len(withheld)} more case(s) that are not in the handout "
              f"({total - points:g} points), graded the same way." if withheld else
              "Gradescope runs the same tests.")
    return f"""# {assignment.title}: handout

You implement {classes} in {files}. The stubs raise `NotImplementedError`
until you do.

## Set up once

With Python 3.10 or newer (`python3 --version`; on Windows `py --version`),
from this folder. On macOS and Linux:

```
python3 -m venv .venv
source .venv/bin/activate
python -m pip install -r requirements.txt
```

On Windows, in PowerShell:

```
py -m venv .venv
.venv\\Scripts\\Activate.ps1
python -m pip install -r requirements.txt
```

(If PowerShell refuses to run the script, first run
`Set-ExecutionPolicy -Scope CurrentUser RemoteSigned`.) In every new terminal,
activate the environment again (the second line) before the commands below.
If one says that numpy is not installed for this Python, that is the fix.
Any environment with the packages of `requirements.txt` works.

## Test your code

```
python -m autograder
```

grades your {files} against the {len(shipped)} visible test cases ({points:g} of
the assignment's {total:g} points): a score table like Gradescope's, what is
wrong in each failing test (with the numbers and where, and a hint when the
mistake is a known one), and a last line `Total: S/M`. Your code runs in a
separate process with time and memory limits, as on Gradescope; what it
prints is shown with the test that printed it.

The same tests run under pytest, one pytest test per check, named after the
case and the method (`test_{shipped[0].name if shipped else "CASE"}_{methods[0] if methods else "METHOD"}`):

```
{chr(10).join(examples)}
```

## What Gradescope adds

{hidden} Passing every visible test is a good sign, not a guarantee: test
your code on inputs of your own too.

The files in `test_cases/` are the visible tests (inputs and expected
outputs, in YAML). Do not edit `autograder/` or `test_cases/`: Gradescope
uses its own copy.
"""


def handout_split(assignment: Assignment, cases: list[Case]) -> tuple[list[Case], list[Case]]:
    """(the fixtures the handout ships, those it withholds): a case ships when the config says so."""
    ships = {spec.name: spec.handout for spec in assignment.cases}
    return [c for c in cases if ships.get(c.name, False)], [c for c in cases if not ships.get(c.name, False)]


def handout_files(assignment: Assignment, shipped: list[Case], withheld: list[Case], root: Path = PROJECT_ROOT,
                  home: Path | None = None) -> Files:
    """Everything in handout.zip: the grader from `root`, the template from the assignment's folder `home`."""
    template = (root if home is None else home) / assignment.template
    if not template.is_dir():
        raise AutograderError(f"{template}: template folder not found (template in {assignment.path})")
    files: Files = {}
    for path in sorted(template.rglob("*")):
        rel = path.relative_to(template)
        if path.is_file() and "__pycache__" not in rel.parts and not path.name.endswith(".pyc"):
            files[rel.as_posix()] = (path.read_bytes(), 0o644)
    for problem in assignment.problems.values():
        if problem.file not in files:
            raise AutograderError(f"{template / problem.file}: the template has no {problem.file} "
                                  f"(problems.{problem.name}.file)")
    files.update(grader_files(root / "autograder"))
    files["autograder/local_pytest.py"] = ((root / "autograder" / "local_pytest.py").read_bytes(), 0o644)
    for case in shipped:
        assert case.path is not None
        files[f"test_cases/{case.path.name}"] = (case.path.read_bytes(), 0o644)
    files.update(handout_feedback(shipped))
    files["README.md"] = (student_readme(assignment, shipped, withheld).encode(), 0o644)
    files["conftest.py"] = (CONFTEST.encode(), 0o644)
    files["pytest.ini"] = (PYTEST_INI.encode(), 0o644)
    files["requirements.txt"] = (with_packages((root / "requirements.txt").read_text(), assignment.packages).encode(), 0o644)
    return files


# -- what must stay out ---------------------------------------------------------------------------

def _normal(line: str) -> str:
    return " ".join(line.split())


def reference_lines(assignment: Assignment, root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Lines of reference code (normalised -> the file they come from) that the template does not share."""
    template_lines = {_normal(line) for path in (root / assignment.template).rglob("*.py")
                      for line in path.read_text(encoding="utf-8", errors="replace").splitlines()}
    lines = {}
    for path in sorted((root / assignment.reference).rglob("*.py")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            text = _normal(line)
            if len(text) >= MIN_LEAK_LINE and text not in template_lines and not text.startswith("#"):
                lines.setdefault(text, str(path.relative_to(root)))
    return lines


def find_reference_code(files: Files, lines: dict[str, str]) -> list[str]:
    """Files of the zip that hold a line of reference code (anywhere in a line, spacing aside)."""
    found = []
    for name, (content, _) in sorted(files.items()):
        text = content.decode("utf-8", errors="replace")
        hit = next((ref for line in text.splitlines() for ref in lines if ref in _normal(line)), None)
        if hit is not None:
            found.append(f"{name} holds a line of {lines[hit]}: {hit!r}")
    return found


def _floats(array_values: Iterable[float]) -> set[str]:
    tokens = set()
    for value in array_values:
        text = repr(float(value))
        if len(re.sub(r"[^0-9]", "", text.split("e")[0]).strip("0")) >= MIN_LEAK_DIGITS:
            tokens.add(text)
    return tokens


def find_withheld(files: Files, shipped: list[Case], withheld: list[Case]) -> list[str]:
    """Withheld fixtures, or their names or values, anywhere in the zip."""
    found = []
    shipped_names = {f"test_cases/{c.path.name}" for c in shipped if c.path is not None}
    shipped_names |= {f"test_cases/{FEEDBACK_DIR}/{c.problem.name}{suffix}" for c in shipped for suffix in (".yaml", STORED_SUFFIX)}
    for name in files:
        if name.startswith("test_cases/") and name not in shipped_names:
            found.append(f"{name} is not a fixture the handout ships")
    secret_names = {c.name: c for c in withheld if c.name not in {s.name for s in shipped}}
    secret_values: dict[str, str] = {}
    secret_rows: dict[tuple, str] = {}
    for case in withheld:
        for group in (case.inputs, case.expected):
            for array in group.values():
                for token in _floats(array.ravel()):
                    secret_values.setdefault(token, case.name)
                if array.ndim >= 2 and array.shape[-1] >= 2:
                    for row in array.reshape(-1, array.shape[-1]):
                        if sum(1 for v in row if v) >= 2:  # a row of zeros (a ReLU's, say) tells nothing
                            secret_rows.setdefault(tuple(float(v) for v in row), case.name)
    for name, (content, _) in sorted(files.items()):
        text = content.decode("utf-8", errors="replace")
        for secret in secret_names:
            if re.search(rf"\b{re.escape(secret)}\b", text):
                found.append(f"{name} names the withheld case '{secret}'")
        for token in _FLOAT.findall(text):
            if token.lstrip("+") in secret_values:
                found.append(f"{name} holds {token}, a value of the withheld case '{secret_values[token.lstrip('+')]}'")
                break
    for case in shipped:
        owners = {secret_rows.get(tuple(float(v) for v in row))
                  for group in (case.inputs, case.expected) for array in group.values()
                  if array.ndim >= 2 and array.shape[-1] >= 2 for row in array.reshape(-1, array.shape[-1])}
        for owner in sorted(o for o in owners if o):
            found.append(f"test_cases/{case.path.name if case.path else case.name} has a row of the withheld case '{owner}'")
    return found


# -- do they work ----------------------------------------------------------------------------------

def _unpack(files: Files, folder: Path) -> None:
    for name, (content, mode) in files.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, mode)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def smoke_test_handout(files: Files, assignment: Assignment, points: float, root: Path = PROJECT_ROOT) -> tuple[list[str], list[str]]:
    """Unpack the handout; the local runner and pytest must give the template 0 and the reference full marks."""
    problems, done = [], []
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    with tempfile.TemporaryDirectory(prefix="autograder-handout-") as tmp:
        folder = Path(tmp) / "handout"
        _unpack(files, folder)
        solved = Path(tmp) / "solved"
        shutil.copytree(folder, solved)
        for problem in assignment.problems.values():
            shutil.copy(root / assignment.reference / problem.file, solved / problem.file)
        for where, want in ((folder, f"Total: 0/{points:g}"), (solved, f"Total: {points:g}/{points:g}")):
            who = "template" if where == folder else "reference"
            proc = subprocess.run([sys.executable, "-m", "autograder"], cwd=where, capture_output=True, text=True,
                                  env=env, timeout=600)
            if proc.returncode != 0 or _last_line(proc.stdout) != want:
                problems.append(f"in the unpacked handout, `python -m autograder` on the {who} ends with "
                                f"{_last_line(proc.stdout) or _last_line(proc.stderr)!r}, not {want!r}")
            else:
                done.append(f"unpacked handout: `python -m autograder` gives the {who} {want[7:]}")
        if importlib.util.find_spec("pytest") is None:
            done.append("pytest is not installed here: the handout's pytest run was not tried")
            return problems, done
        for where, code in ((folder, 1), (solved, 0)):
            who = "template" if where == folder else "reference"
            proc = subprocess.run([sys.executable, "-m", "pytest", "-q"], cwd=where, capture_output=True, text=True,
                                  env=env, timeout=600)
            if proc.returncode != code:
                problems.append(f"in the unpacked handout, `python -m pytest` on the {who} exits {proc.returncode}, "
                                f"not {code}: {_last_line(proc.stdout)!r}")
            else:
                done.append(f"unpacked handout: `python -m pytest` on the {who}: {_last_line(proc.stdout)}")
    return problems, done


def smoke_test_autograder(files: Files, assignment: Assignment, total: float, root: Path = PROJECT_ROOT) -> tuple[list[str], list[str]]:
    """Unpack autograder.zip as Gradescope does; run_autograder must give the template 0 and the reference full marks."""
    problems, done = [], []
    for folder, want in ((root / assignment.template, 0.0), (root / assignment.reference, total)):
        who = "template" if want == 0.0 else "reference"
        with tempfile.TemporaryDirectory(prefix="autograder-zip-") as tmp:
            base = Path(tmp)
            _unpack(files, base / "source")
            shutil.copytree(folder, base / "submission", ignore=shutil.ignore_patterns("__pycache__"))
            (base / "results").mkdir()
            env = dict(os.environ, AUTOGRADER_ROOT=str(base), AUTOGRADER_PYTHON=sys.executable)
            subprocess.run(["bash", str(base / "source" / "run_autograder")], env=env, capture_output=True, timeout=600)
            try:
                score = json.loads((base / "results" / "results.json").read_text())["score"]
            except (OSError, ValueError, KeyError) as exc:
                problems.append(f"autograder.zip: run_autograder on the {who} wrote no usable results.json ({exc})")
                continue
            if abs(score - want) > 1e-9:
                problems.append(f"autograder.zip: run_autograder gives the {who} {score:g}, not {want:g}")
            else:
                done.append(f"unpacked autograder.zip: run_autograder gives the {who} {score:g}/{total:g}")
    return problems, done


# -- writing --------------------------------------------------------------------------------------

def zip_bytes(files: Files) -> bytes:
    """A deterministic zip: sorted names, fixed timestamps, modes kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            content, mode = files[name]
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".zip")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def package(config: Path, fixtures: Path, out: Path, *, root: Path = PROJECT_ROOT,
            log: Callable[[str], None] = lambda line: None) -> PackageReport:
    """Build, verify and write both zips; raises AutograderError listing every problem (and writes nothing)."""
    assignment = load_assignment(config)
    home = assignment.root if root == PROJECT_ROOT else root  # the assignment's folder (reference, template)
    cases = load_cases(fixtures)
    log(f"Checking that {fixtures} is what generate writes from {config} ...")
    stale = stale_fixtures(build_cases(assignment, home), fixtures)
    if stale:
        raise AutograderError(f"{fixtures}: fixtures are out of date ({'; '.join(stale)}): run `python -m autograder "
                              "generate` first")
    shipped, withheld = handout_split(assignment, cases)
    checks = [f"{len(cases)} fixtures are what generate writes from the config"]
    grader = autograder_files(cases, root, assignment.packages)
    handout = handout_files(assignment, shipped, withheld, root, home)
    problems = []
    for name in GRADESCOPE_ROOT_FILES:
        if name not in grader:
            problems.append(f"autograder.zip has no {name} at its root")
    banned = ("tests/", "benchmarks/", f"{assignment.reference}/", f"{assignment.template}/")
    problems += [f"autograder.zip holds {n}, which Gradescope does not need" for n in grader if n.startswith(banned)]
    reference_bytes = {p.read_bytes() for p in (home / assignment.reference).rglob("*.py")}
    problems += [f"autograder.zip holds a copy of a reference file: {n}" for n, (c, _) in grader.items()
                 if c in reference_bytes and c.strip()]
    lines = reference_lines(assignment, home)
    problems += find_reference_code(handout, lines)
    problems += find_withheld(handout, shipped, withheld)
    if not problems:
        checks.append(f"handout.zip: no line of reference code ({len(lines)} lines looked for), no withheld fixture "
                      f"({len(withheld)}), none of their names or values")
        log("Grading the template and the reference in the unpacked zips ...")
        total = sum(c.points for case in cases for c in case.checks)
        shipped_points = sum(c.points for case in shipped for c in case.checks)
        for test in (smoke_test_autograder(grader, assignment, total, home),
                     smoke_test_handout(handout, assignment, shipped_points, home)):
            problems += test[0]
            checks += test[1]
    if problems:
        raise AutograderError("package refused, nothing was written: " + "; ".join(problems))
    out.mkdir(parents=True, exist_ok=True)
    _write_atomic(out / "autograder.zip", zip_bytes(grader))
    _write_atomic(out / "handout.zip", zip_bytes(handout))
    return PackageReport(autograder_zip=out / "autograder.zip", handout_zip=out / "handout.zip",
                         autograder_files=sorted(grader), handout_files=sorted(handout),
                         shipped_cases=[c.name for c in shipped], withheld_cases=[c.name for c in withheld],
                         checks=checks)
