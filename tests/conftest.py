import fcntl
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from autograder.sandbox import system  # noqa: E402
from helpers import TEST_ACCOUNT  # noqa: E402


@pytest.fixture(scope="module")
def sandbox_account() -> Iterator[int | None]:
    """The test-only sandbox account's uid (created when missing), held under a lock; None when not root.

    Every test that runs student code as root uses this account, in this
    process (system.SANDBOX_USER is set to it while the module runs) or in
    run_autograder (AUTOGRADER_SANDBOX_USER). The lock (a flock on
    /tmp/<account>.lock) keeps concurrent test runs from sharing it: a
    sandbox kills and deletes whatever the account left, so each would see
    the other's processes as "left behind", or lose them.
    """
    if os.geteuid() != 0:
        yield None
        return
    with open(os.path.join(tempfile.gettempdir(), f"{TEST_ACCOUNT}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            pwd.getpwnam(TEST_ACCOUNT)
        except KeyError:
            subprocess.run([shutil.which("useradd", path=system.ADMIN_PATH) or "useradd", "--system",
                            "--no-create-home", "--shell", "/usr/sbin/nologin", TEST_ACCOUNT],
                           check=True, capture_output=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(system, "SANDBOX_USER", TEST_ACCOUNT)
            yield pwd.getpwnam(TEST_ACCOUNT).pw_uid
