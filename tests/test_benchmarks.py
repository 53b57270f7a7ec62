"""benchmarks/bench.py: runs end to end in its quick mode, and judges the issue's targets correctly."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

from helpers import PROJECT

BENCH = PROJECT / "benchmarks" / "bench.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_under_test", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_quick_benchmark_measures_every_case(tmp_path):
    out = tmp_path / "figures.json"
    # --against: another checkout's grader, side by side in the same rounds (here this very checkout)
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--json", str(out), "--against", str(PROJECT)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    figures = json.loads(out.read_text())
    p = figures["processes"]
    assert set(p) == {"floor", "correct", "correct_bytecode", "homework_bytecode", "triple_loop", "crash_at_import",
                      "hang", "correct_against", "homework_against"}
    assert p["homework_against"]["scores"] == p["homework_bytecode"]["scores"]
    assert p["correct_against"]["scores"] == p["correct_bytecode"]["scores"]
    assert "the same, by " in proc.stdout
    assert p["homework_bytecode"]["scores"] == [p["homework_bytecode"]["max_score"]] > [0]
    assert p["correct_bytecode"]["scores"] == [p["correct"]["max_score"]]
    assert 0 < p["floor"]["median_s"] < p["correct"]["median_s"]
    assert p["correct"]["scores"] == [p["correct"]["max_score"]] and p["correct"]["max_score"] > 0
    # the writeup's code loses the stability forward checks, nothing else hangs or crashes
    assert 0 < p["triple_loop"]["score"] < p["triple_loop"]["max_score"]
    assert p["crash_at_import"]["score"] == 0 and p["hang"]["score"] == 0
    # --quick gives the hanging submission a 1 s budget: it must be stopped close to it
    assert figures["hang_budget_s"] == 1.0
    assert p["hang"]["max_s"] <= figures["hang_budget_s"] + 2.0
    assert figures["fixtures"]["cases"] > 0 and figures["fixtures"]["median_s"] > 0
    assert 0 < figures["memory"]["grader_mb"] < 1000
    assert figures["kernels"]["backward_max_abs_diff"] < 1e-12
    assert "x floor" in proc.stdout and "Targets (issue 6):" in proc.stdout
    assert {t["target"].split()[0] for t in figures["targets"]} == {"correct", "whole", "hang", "fixture", "grader"}


def test_targets_are_judged_against_the_floor_and_the_budget():
    bench = _bench_module()
    figures = {
        "processes": {"floor": {"median_s": 0.1}, "correct": {"median_s": 0.25}, "correct_bytecode": {"median_s": 0.3},
                      "homework_bytecode": {"median_s": 0.21}, "hang": {"max_s": 31.0}},
        "fixtures": {"median_s": 0.003},
        "memory": {"grader_mb": 250.0},
        "hang_budget_s": 30.0,
    }
    verdicts = {t["target"].split()[0]: t["holds"] for t in bench.targets(figures)}
    assert verdicts == {"correct": False, "whole": False, "hang": True, "fixture": True, "grader": False}
    figures["processes"]["correct"]["median_s"] = 0.3  # judged as deployed: with the grader compiled
    figures["processes"]["correct_bytecode"]["median_s"] = 0.2
    figures["processes"]["homework_bytecode"]["median_s"] = 0.2
    figures["processes"]["hang"]["max_s"] = 30.0 + bench.HANG_MARGIN + 0.1
    figures["memory"]["grader_mb"] = 40.0
    figures["fixtures"]["median_s"] = 0.02
    verdicts = {t["target"].split()[0]: t["holds"] for t in bench.targets(figures)}
    assert verdicts == {"correct": True, "whole": True, "hang": False, "fixture": False, "grader": True}


def test_against_names_a_checkout_of_this_repository(tmp_path):
    proc = subprocess.run([sys.executable, str(BENCH), "--quick", "--against", str(tmp_path)], cwd=PROJECT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "not a checkout of this repository" in proc.stderr
