"""pyATS job with two tasks: lab_checks.py with fixed=True, and setup_fails.py (for Proctor's second fixture)."""
import os

from pyats.easypy import run


def main(runtime):
    here = os.path.dirname(os.path.abspath(__file__))
    run(testscript=os.path.join(here, "lab_checks.py"), runtime=runtime, taskid="checks", fixed=True)
    run(testscript=os.path.join(here, "setup_fails.py"), runtime=runtime, taskid="blocked")
