"""Tests shipped with Proctor's example lab: `proctor apply examples/lab.yaml` defines the job
`pytest-demo`, which runs this directory with pytest. One test fails on purpose when
PROCTOR_DEMO_FAIL=1 (a profile env arg), so both outcomes can be seen."""

import os
import time


def test_arithmetic():
    assert 2 + 2 == 4


def test_strings():
    assert "proctor".upper() == "PROCTOR"


def test_slow_enough_to_follow_the_log():
    for step in range(3):
        print(f"step {step}", flush=True)
        time.sleep(float(os.environ.get("PROCTOR_DEMO_STEP_SECONDS", "0.2")))


def test_optional_failure():
    assert os.environ.get("PROCTOR_DEMO_FAIL") != "1", "asked to fail by PROCTOR_DEMO_FAIL=1"
