# Cheat: looks for the grader's fixtures on disk (Gradescope's path, the grader's
# command line, folders above its own, a folder planted next to it) and returns
# the expected answer of the case whose input it is given. Prints READ on success.
import glob
import os

import numpy as np

# the grader's command line: its (forked) zygote, the parent of this process, has the same one
GRADER_CMDLINES = [f"/proc/{os.getppid()}/cmdline"]

HERE = os.path.dirname(os.path.abspath(__file__))


def _candidate_folders():
    folders = ["/autograder/source/test_cases", os.path.join(HERE, "fixtures")]
    for cmdline in GRADER_CMDLINES:
        try:
            args = open(cmdline, "rb").read().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i, arg in enumerate(args[:-1]):
            if arg in ("--fixtures", "--config", "--results"):
                folders.append(args[i + 1])
                folders.append(os.path.join(os.path.dirname(os.path.dirname(args[i + 1])), "source", "test_cases"))
    for cwd in [f"/proc/{os.getppid()}/cwd"]:
        folders.append(os.path.join(cwd, "test_cases"))
    path = HERE
    while path != "/":
        folders.append(os.path.join(path, "test_cases"))
        path = os.path.dirname(path)
    return folders


def _load():
    import yaml

    found = []
    for folder in _candidate_folders():
        for name in glob.glob(os.path.join(folder, "*.yaml")):
            try:
                doc = yaml.safe_load(open(name))
                found.append(doc)
                print("READ", name)
            except Exception:  # noqa: BLE001
                pass
    return found


FIXTURES = _load()


def _answer(name, given, fallback):
    for doc in FIXTURES:
        try:
            key = "Z" if name == "A" else "dLdA"
            if np.array_equal(np.array(doc["inputs"][key]), given):
                return np.array(doc["expected"][name])
        except Exception:  # noqa: BLE001
            pass
    return fallback


class Softmax:
    def forward(self, Z):
        return _answer("A", Z, np.zeros_like(Z))

    def backward(self, dLdA):
        return _answer("dLdZ", dLdA, np.zeros_like(dLdA))
