"""The differential fuzzer (tests/fuzz_api.py) with its small CI budget: every mode, a fixed
seed, in a subprocess (so that even an interpreter crash fails the test) with a time limit.

A long run: ``TINYTORCH_FUZZ_CASES=200000 TINYTORCH_FUZZ_SEED=7 pytest tests/test_fuzz.py``
(or ``python tests/fuzz_api.py --cases 200000 --seed 7`` directly; see its docstring).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[1]
CASES = int(os.environ.get("TINYTORCH_FUZZ_CASES", "0"))  # 0: the CI budget in fuzz_api.CI_CASES
TIME_LIMIT = 120 if not CASES else 24 * 3600


@pytest.mark.parametrize("mode", ["ops", "index", "load"])
def test_fuzz_finds_no_failure(mode):
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, str(ROOT / "tests" / "fuzz_api.py"), "--mode", mode, "--show", "5"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the {mode} fuzzer ran past {TIME_LIMIT} s")
    assert r.returncode in (0, 1), f"the fuzzer crashed (exit {r.returncode}):\n{r.stderr[-3000:]}"
    report = json.loads(r.stdout)["reports"][0]
    failures = {k: v for k, v in report["examples"].items() if k.startswith("failure")}
    assert report["failures"] == 0, json.dumps(failures, indent=1)
    assert report["counts"]["cases"] > 0
