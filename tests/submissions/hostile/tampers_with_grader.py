# Cheat: probes (without changing anything) whether it could write to the grader's
# source, its fixtures, the results folder, the Python installation, or the original
# submission; prints WRITABLE for each place it could. Also reports who it runs as.
import os
import sys

import numpy as np

# the grader's command line: its (forked) zygote, the parent of this process, has the same one
GRADER_CMDLINES = [f"/proc/{os.getppid()}/cmdline"]


def _grader_paths():
    paths = ["/autograder/source/autograder/compare.py", "/autograder/results", "/autograder/source/test_cases"]
    for cmdline in GRADER_CMDLINES:
        try:
            args = open(cmdline, "rb").read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args[:-1]):
            if arg in ("--fixtures", "--config", "--results"):
                target = args[i + 1]
                paths += [target, os.path.dirname(target), os.path.dirname(os.path.dirname(target))]
            if arg == "grade":
                paths.append(args[i + 1])
    paths += [os.path.dirname(np.__file__), np.__file__, os.path.dirname(os.__file__), sys.prefix]
    return paths


def _probe():
    print(f"uid={os.getuid()} euid={os.geteuid()} gid={os.getgid()} groups={os.getgroups()}")
    for path in _grader_paths():
        if not os.path.exists(path):
            continue
        if os.path.isdir(path):
            writable = os.access(path, os.W_OK)
        else:
            try:
                open(path, "ab").close()  # opening to append changes nothing
                writable = True
            except OSError:
                writable = False
        if writable:
            print("WRITABLE", path)


_probe()


class Softmax:
    def forward(self, Z):
        return np.zeros_like(Z)

    def backward(self, dLdA):
        return np.zeros_like(dLdA)
