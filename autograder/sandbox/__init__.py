"""Running student code isolated, bounded and without privileges (see README, "Sandbox")."""

from .runner import CallOutcome, Sandbox

__all__ = ["CallOutcome", "Sandbox"]
