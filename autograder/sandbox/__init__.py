"""Running student code isolated, bounded and, as root, without privileges (see README, "Sandbox").

Two backends behind one interface (base.SandboxBase): ``hardened`` and
``portable``; choose.open_sandbox picks one. Importing this package imports
neither backend, so it works on every operating system.
"""

from .outcome import CallOutcome, Outcome

__all__ = ["CallOutcome", "Outcome"]
