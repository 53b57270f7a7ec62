"""Find the student's file in a submission, without running anything."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import AutograderError

IGNORED_PARTS = {"__pycache__", "__MACOSX", ".git", ".ipynb_checkpoints", "venv", ".venv", "site-packages"}


class SubmissionNotFound(AutograderError):
    """The submission has no (or more than one) candidate file; the message lists what was found."""


@dataclass(frozen=True)
class Located:
    """Where the student's file is and how to import it."""

    root: Path  # the folder copied into the sandbox
    file: Path  # the student's file
    import_root: str  # folder (relative to root) that goes on sys.path
    module: str  # dotted module name to import from there

    @property
    def shown(self) -> str:
        """The file as the student knows it, relative to the submission."""
        return str(self.file.relative_to(self.root))


def locate(submission: Path, file_name: str = "mytorch/nn/activation.py") -> Located:
    """Find `activation.py` (by default) at the root, under mytorch/nn/, or one folder deeper.

    A single .py file may be given instead of a folder.
    """
    submission = Path(submission)
    target = Path(file_name)
    if not submission.exists():
        raise SubmissionNotFound(f"{submission}: no such file or folder")
    if submission.is_file():
        if submission.suffix != ".py":
            raise SubmissionNotFound(f"{submission}: expected a .py file or a folder")
        return Located(root=submission.parent, file=submission, import_root=".", module=submission.stem)
    candidates = [
        p for p in submission.rglob(target.name)
        if p.is_file() and not (set(p.relative_to(submission).parts) & IGNORED_PARTS)
        and not any(part.startswith(".") for part in p.relative_to(submission).parts)
    ]
    if not candidates:
        py_files = sorted(str(p.relative_to(submission)) for p in submission.rglob("*.py"))[:10]
        found = ", ".join(py_files) if py_files else "no .py files at all"
        raise SubmissionNotFound(f"no {target.name} found in the submission (expected {file_name}); found: {found}")
    # Prefer the full package path (mytorch/nn/activation.py), then the shallowest match.
    def rank(p: Path) -> tuple[int, int]:
        rel = p.relative_to(submission)
        in_package = rel.parts[-len(target.parts):] == target.parts
        return (0 if in_package else 1, len(rel.parts))

    candidates.sort(key=lambda p: (rank(p), str(p)))
    best = candidates[0]
    ties = [p for p in candidates if rank(p) == rank(best)]
    if len(ties) > 1:
        listed = ", ".join(str(p.relative_to(submission)) for p in ties)
        raise SubmissionNotFound(f"found {len(ties)} candidate {target.name} files and cannot tell which one to grade: "
                                 f"{listed}; submit only one")
    rel = best.relative_to(submission)
    if rel.parts[-len(target.parts):] == target.parts:
        import_root = Path(*rel.parts[: len(rel.parts) - len(target.parts)]) if len(rel.parts) > len(target.parts) else Path(".")
        module = ".".join(target.with_suffix("").parts)
    else:
        import_root = rel.parent
        module = best.stem
    return Located(root=submission, file=best, import_root=str(import_root), module=module)
