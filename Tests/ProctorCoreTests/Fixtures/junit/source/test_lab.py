"""A small pytest module with one test of each outcome, used to produce Proctor's JUnit fixture."""
import sys

import pytest


@pytest.fixture
def broken_device():
    raise RuntimeError("device fixture could not connect")


def test_passes():
    print("hello from stdout")
    assert 1 + 1 == 2


def test_fails():
    print("about to fail", file=sys.stderr)
    assert "17.3" == "16.9", "wrong version <&>"


def test_errors(broken_device):
    pass


@pytest.mark.skip(reason="no wireless on this testbed")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug 1234")
def test_expected_failure():
    assert False


@pytest.mark.parametrize("vlan", [10, 20])
def test_vlan(vlan):
    assert vlan in (10, 20)
