# Appended to every graded file of the hw1p1 reference (see test_attacks): each time its host forks a child
# (its shared child now forks as soon as the hosts are taken, before any check), the child starts a thread and
# a detached process that outlives it. Every test must still pass, and nothing must be left behind.
import os as _os
import threading as _threading
import time as _time


def _after_fork_in_child():
    _threading.Thread(target=_time.sleep, args=(60,), daemon=True).start()
    if _os.fork() == 0:
        try:
            _os.setsid()
            if _os.fork() == 0:
                _time.sleep(60)
        finally:
            _os._exit(0)


_os.register_at_fork(after_in_child=_after_fork_in_child)
