"""Command line: `python -m autograder [grade|generate|audit|package|regrade] ...`; a thin layer over the library.

The student handout ships the grading modules only, so there the
instructors' commands are simply not offered.

Output never fails a command: a reader that went away (`... | head -3`)
ends it quietly, as standard tools do, while the command itself runs to the
end (grade still writes its results in full); text the terminal's encoding
cannot show (a student's lone surrogate) is printed escaped.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import os
import sys
import traceback
from pathlib import Path
from typing import Any, TextIO

from .errors import AutograderError
from .paths import DEFAULT_CONFIG, DEFAULT_FIXTURES

LOCAL_SUBMISSION = Path(".")
INSTRUCTOR_COMMANDS = ("generate", "audit", "package", "regrade")  # each is the module of the same name


class QuietStream:
    """A text stream whose writes never fail: once its reader is gone, output goes nowhere, quietly.

    A closed pipe would otherwise raise BrokenPipeError in the middle of a
    command (and again when Python flushes at exit); unencodable characters
    would raise UnicodeEncodeError. Neither is a failure of the command.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.reader_gone = False
        try:
            stream.reconfigure(errors="backslashreplace")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):  # not a TextIOWrapper: write() escapes instead
            pass

    def write(self, text: str) -> int:
        if self.reader_gone:
            return len(text)
        try:
            try:
                return self.stream.write(text)
            except UnicodeEncodeError:
                encoding = getattr(self.stream, "encoding", None) or "ascii"
                return self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding, "replace"))
        except BrokenPipeError:
            self._discard()
            return len(text)

    def flush(self) -> None:
        if self.reader_gone:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._discard()

    def _discard(self) -> None:
        """Point the descriptor at /dev/null, so what is still buffered (and the exit's flush) goes nowhere."""
        self.reader_gone = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, self.stream.fileno())
            finally:
                os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def available(command: str) -> bool:
    """Whether an instructor command's module is here (it is not in the student handout)."""
    return importlib.util.find_spec(f".{command}", __package__) is not None


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line; with `only`, with that command's options alone (each costs building; `grade` is timed)."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Autograder for the MyTorch homework. With no command, grades the student's files in the "
                    "current folder (mytorch/nn/activation.py) against the tests in test_cases/, as `grade .` does.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (build, _) in COMMANDS.items():
        if (only is None or name == only) and (name not in INSTRUCTOR_COMMANDS or available(name)):
            build(sub)
    return parser


def _generate_parser(sub: argparse._SubParsersAction) -> None:
    gen = sub.add_parser("generate", help="(re)write test_cases/ from the reference solution",
                         description="Write one YAML fixture per case of the assignment config, computed by the "
                                     "reference solution and checked against an independent implementation.")
    gen.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="assignment config (default: %(default)s)")
    gen.add_argument("--out", type=Path, default=DEFAULT_FIXTURES, help="fixture folder (default: %(default)s)")
    gen.add_argument("--check", action="store_true", help="write nothing; exit 1 if the fixtures are not up to date")
    _assignment_option(gen)


def _grade_parser(sub: argparse._SubParsersAction) -> None:
    grade = sub.add_parser("grade", help="grade a submission and write Gradescope results JSON",
                           description="Grade a submission folder (or a single .py file). Exits 0 whenever the "
                                       "results were written, whatever the score.")
    grade.add_argument("submission", type=Path, metavar="SUBMISSION",
                       help="folder or .py file holding the student's activation.py")
    grade.add_argument("--results", type=Path, help="where to write Gradescope's results.json")
    grade.add_argument("--metadata", type=Path,
                       help="Gradescope's submission_metadata.json, for the submission policy (default: the one next "
                            "to SUBMISSION, as on Gradescope, when there is one)")
    grade.add_argument("--no-policy", action="store_true", help="do not apply the submission policy")
    grade.add_argument("--problem", action="append", default=None, metavar="NAME",
                       help="grade only the checks of this problem (its name in the config; repeat for several; "
                            "default: every problem)")
    _grading_options(grade)


def _index_parser(sub: argparse._SubParsersAction) -> None:
    index = sub.add_parser("index", help="parse the fixtures once, so that each grading reads them faster (setup.sh)",
                           description="Write FIXTURES/.parsed-fixtures.index: the fixtures as grading reads them, "
                                       "each with the length and CRC-32 of its file. Grading uses an entry only while "
                                       "its YAML file is unchanged, so the YAML stays the only truth; setup.sh runs "
                                       "this once on Gradescope. The index holds hidden cases: never hand it out.")
    index.add_argument("fixtures", type=Path, nargs="?", default=DEFAULT_FIXTURES, metavar="FIXTURES",
                       help="fixture folder (default: %(default)s)")


def _audit_parser(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="check before release that the tests tell right from wrong",
                           description="Check the fixtures against the config, an independent implementation, finite "
                                       "differences and the writeup's numbers; grade the reference (full marks), the "
                                       "template (zero) and a catalogue of typical wrong implementations (each must "
                                       "lose points). Exits 1 when anything is off.")
    audit.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="assignment config (default: %(default)s)")
    audit.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="fixture folder (default: %(default)s)")
    audit.add_argument("--jobs", type=_positive_int, default=None, help="submissions graded at once (default: one per core)")
    audit.add_argument("--only", action="append", default=[], metavar="MUTANT",
                       help="grade only this mutant of the catalogue (repeat for several; default: all)")
    _assignment_option(audit)


def _package_parser(sub: argparse._SubParsersAction) -> None:
    package = sub.add_parser("package", help="write autograder.zip (for Gradescope) and handout.zip (for students)",
                             description="Write DIR/autograder.zip (setup.sh and run_autograder at its root, the grader, "
                                         "every fixture) and DIR/handout.zip (the template as mytorch/..., the visible "
                                         "fixtures, the local runner, a student README). Before writing, checks that "
                                         "the fixtures are up to date, that the handout holds no reference code and "
                                         "no withheld fixture or value, and that both zips grade as they should.")
    package.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder to write the two zips to")
    package.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="assignment config (default: %(default)s)")
    package.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="fixture folder (default: %(default)s)")
    _assignment_option(package)


def _regrade_parser(sub: argparse._SubParsersAction) -> None:
    regrade = sub.add_parser("regrade", help="grade every submission of a Gradescope export into a CSV and a JSON summary",
                             description="Grade every submission folder of DIR (a Gradescope export: one folder per "
                                         "submission, with submission_metadata.yml when present), each in a process "
                                         "of its own exactly as `grade` does, several at once. Writes regrade.csv "
                                         "(one row per submission, one column per test), regrade.json, "
                                         "regrade-results/ (each submission's results.json) and report.html (the "
                                         "class report; needs matplotlib: pip install -r autograder/requirements-instructor.txt).")
    regrade.add_argument("export", type=Path, metavar="DIR", help="folder holding one folder per submission")
    regrade.add_argument("--out", type=Path, default=None, help="where to write regrade.csv, regrade.json, "
                                                                "regrade-results/ and report.html (default: DIR)")
    regrade.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="fixture folder (default: %(default)s)")
    regrade.add_argument("--config", type=Path, default=None,
                         help="assignment config whose limits override the fixtures' own (default: the fixtures' limits)")
    regrade.add_argument("--jobs", type=_positive_int, default=None, help="submissions graded at once (default: one per core)")
    _assignment_option(regrade)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"should be a whole number, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"should be at least 1, found {value}")
    return value


def _grading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES, help="fixture folder (default: %(default)s)")
    parser.add_argument("--config", type=Path, default=None,
                        help="assignment config whose limits (and submission policy) override the fixtures' own; "
                             "read only after student code is fenced off (default: the fixtures' own)")
    parser.add_argument("--quiet", action="store_true", help="print only the total")
    parser.add_argument("--sandbox", choices=("hardened", "portable"), default=None,
                        help="how student code is isolated: hardened (Linux, as on Gradescope) or portable (any "
                             "system); default: AUTOGRADER_SANDBOX, else the strongest this system can run")
    _assignment_option(parser)


def _assignment_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", type=Path, default=None, metavar="DIR",
                        help="an assignment folder (DIR/assignment.yaml, DIR/test_cases, DIR/reference, ...), such "
                             "as examples/hw1p1: its config and fixtures are the defaults (default: the repository's "
                             "own assignment)")


def _apply_assignment(args: argparse.Namespace) -> None:
    """--assignment DIR: the folder's config and fixtures, unless --config or --fixtures (--out) say otherwise."""
    folder = getattr(args, "assignment", None)
    if folder is None:
        return
    config = folder / "assignment.yaml"
    if not config.is_file():
        raise AutograderError(f"{folder}: not an assignment folder (no assignment.yaml in it; --assignment)")
    if args.command != "grade" and getattr(args, "config", None) in (DEFAULT_CONFIG, None):
        args.config = config
    if getattr(args, "fixtures", None) == DEFAULT_FIXTURES:
        args.fixtures = folder / "test_cases"
    if args.command == "generate" and args.out == DEFAULT_FIXTURES:
        args.out = folder / "test_cases"


def cmd_generate(args: argparse.Namespace) -> int:
    from .config import load_assignment
    from .generate import build_cases, stale_fixtures, write_cases

    assignment = load_assignment(args.config)
    print(f"Generating {len(assignment.cases)} case(s) from {assignment.reference}/ ...", flush=True)
    cases = build_cases(assignment)
    if args.check:
        problems = stale_fixtures(cases, args.out)
        for line in problems:
            print(f"  {line}")
        print("Fixtures are up to date." if not problems else f"{len(problems)} fixture file(s) are out of date: "
              "run `python -m autograder generate`.")
        return 1 if problems else 0
    report = write_cases(cases, args.out, log=print)
    print(f"{len(report.written)} written, {len(report.unchanged)} unchanged, {len(report.removed)} removed, in {args.out}")
    return 0


def cmd_grade(args: argparse.Namespace) -> int:
    from .limits import load_limits
    from .grade import grade_submission
    from .report import render
    from .results import GradingResult, to_gradescope
    from .results_file import ResultsFile

    if args.metadata is not None and not args.metadata.is_file():
        raise AutograderError(f"{args.metadata}: submission metadata not found (--metadata)")
    if args.config is not None and not Path(args.config).is_file():
        raise AutograderError(f"{args.config}: assignment config not found (--config)")
    if args.config is not None:  # the policy reads it after grading: import before student code runs
        from . import config, generate  # noqa: F401
    imports_done()
    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    # Space for the results is taken before student code runs: it cannot fill the disk before we write.
    results_file = ResultsFile.reserve(args.results) if args.results else None
    policy_lines: list[str] = []

    def publish(result: GradingResult) -> None:
        """The results file, written while the sandbox closes."""
        document, lines = _apply_policy(args, to_gradescope(result), result.policy)
        policy_lines.extend(lines)
        if results_file is not None:
            results_file.commit(document)

    try:
        # The config is read inside grade_submission, after the zygote is forked: it holds hidden cases' seeds.
        result = grade_submission(args.submission, fixtures=args.fixtures, limits=lambda: load_limits(args.config),
                                  progress=progress, problems=args.problem, sandbox_backend=args.sandbox,
                                  on_result=publish)
    except AutograderError:
        if results_file is not None:
            results_file.withdraw()  # bad input, said on stderr: no results file at all
        raise
    finally:
        if results_file is not None:
            results_file.abandon()  # after a failure the pending document stays: run_autograder says why
    try:
        for warning in result.warnings:
            print(warning, file=sys.stderr)
        if args.quiet:
            print(f"Total: {result.score:g}/{result.max_score:g}")
        else:
            print(render(result))
            if args.results:
                print(f"Results written to {args.results}")
        for line in policy_lines:
            print(line)
    except Exception as exc:  # noqa: BLE001 - the results are written: showing them cannot fail the grading
        if not args.results:
            raise
        print(f"warning: the report could not be shown ({type(exc).__name__}: {exc}); the results are in "
              f"{args.results}", file=sys.stderr)
    return 0


def _apply_policy(args: argparse.Namespace, document: dict, stated: dict[str, Any]) -> tuple[dict, list[str]]:
    """The submission policy, after grading: the config's when one is given, else the one the fixtures state
    (`stated`, as grading read them); a policy that cannot be applied is reported, never fatal."""
    metadata_path = args.metadata
    if metadata_path is None:
        beside = Path(args.submission).resolve().parent / "submission_metadata.json"
        metadata_path = beside if beside.is_file() else None
    if metadata_path is None or args.no_policy:
        return document, []
    from .policy import MetadataError, apply_policy, load_metadata

    if args.config is not None and Path(args.config).is_file():
        from .config import load_assignment
        from .generate import policy_document

        policy = policy_document(load_assignment(args.config))
    else:
        policy = stated
    if not policy:
        return document, []
    try:
        document = apply_policy(document, policy, load_metadata(metadata_path), str(metadata_path))
    except MetadataError as exc:
        note = f"The submission policy could not be applied ({exc}); the score is the graded one."
        document = dict(document, output=f"{note}\n\n{document.get('output', '')}".rstrip("\n"))
        return document, [f"Policy: {note}"]
    policy_info = document["extra_data"]["policy"]
    shown = [line for line in document["output"].splitlines()[:3] if line.startswith(("Submission limit:", "Late:"))]
    return document, [f"Policy: {line}" for line in shown] + [f"Score after the policy: {document['score']:g} "
                                                             f"(graded: {policy_info['graded_score']:g})"]


def cmd_audit(args: argparse.Namespace) -> int:
    from .audit import run_audit
    from .regrade import ProgressBar

    for path, what in ((args.config, "config"), (args.fixtures, "fixture folder")):
        if not path.exists():
            raise AutograderError(f"{path}: {what} not found")
    print(f"Auditing {args.config} against {args.fixtures} ...", flush=True)
    report = run_audit(args.config, args.fixtures, only=args.only, jobs=args.jobs, progress=ProgressBar())
    print(report.render())
    return 0 if report.passed else 1


def cmd_regrade(args: argparse.Namespace) -> int:
    from .regrade import ProgressBar, regrade

    out = args.out or args.export
    if not args.fixtures.is_dir():
        raise AutograderError(f"{args.fixtures}: fixture folder not found (--fixtures)")
    doc = regrade(args.export, out, fixtures=args.fixtures, config=args.config, jobs=args.jobs, progress=ProgressBar())
    overall = doc["overall"]
    print(f"Regraded {overall['count']} submission(s) in {overall['seconds']:.1f} s with {overall['jobs']} job(s): "
          f"{overall['submissions_per_minute']} submissions per minute.")
    print(f"Mean score {overall['mean_score']:g}; {overall['changed']} score(s) differ from the export's; "
          f"{overall['errors']} grader error(s).")
    if overall["report"]:
        print(f"Wrote {out / 'regrade.csv'}, {out / 'regrade.json'}, {out / 'regrade-results'}/ and "
              f"{out / overall['report']}")
    else:
        from .class_figures import missing

        print(f"Wrote {out / 'regrade.csv'}, {out / 'regrade.json'} and {out / 'regrade-results'}/")
        print(f"No class report (report.html): {missing()}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from .fixture_index import write_index

    target, count, left_out = write_index(args.fixtures)
    print(f"Indexed {count} fixture(s) in {target}.")
    for name in left_out:
        print(f"  {name}: left out (it holds a value the index cannot write); grading reads its YAML")
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    from .package import package

    report = package(args.config, args.fixtures, args.out, log=lambda line: print(line, flush=True))
    print(report.summary())
    return 0


# Each command: what builds its options, and what runs it; in the order --help lists them.
COMMANDS = {"grade": (_grade_parser, cmd_grade), "index": (_index_parser, cmd_index),
            "generate": (_generate_parser, cmd_generate), "audit": (_audit_parser, cmd_audit),
            "package": (_package_parser, cmd_package), "regrade": (_regrade_parser, cmd_regrade)}


def imports_done() -> None:
    """The command's modules are imported: garbage is collected from here on, never again scanning what the
    imports made (frozen: it lives as long as the process). `python -m autograder` starts with the
    collector off (see __main__); a no-op once it is on."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def main(argv: list[str] | None = None) -> int:
    """Run one command; its exit status (0 done, 1 a check failed, 2 bad input, 3 our bug, 130 interrupted)."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = (stream if stream is None or isinstance(stream, QuietStream) else QuietStream(stream)
                              for stream in saved)
    try:
        return _run(argv)
    finally:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        sys.stdout, sys.stderr = saved
        imports_done()  # whatever happened (a bad argument, say): the collector is on once more


def _run(argv: list[str] | None) -> int:
    first = (sys.argv[1:] if argv is None else argv)[:1]
    args = _parser(first[0] if first and first[0] in COMMANDS else None).parse_args(argv)
    if args.command is None:
        args = _parser().parse_args(["grade", str(LOCAL_SUBMISSION), *(argv or [])])
    try:
        if args.command != "grade":  # which imports its modules first (see cmd_grade)
            imports_done()
        _apply_assignment(args)
        return COMMANDS[args.command][1](args)
    except AutograderError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug of ours: say so plainly, with the trace for us
        traceback.print_exc()
        print("error: the autograder itself failed (see the trace above); please report it", file=sys.stderr)
        return 3
