"""pyATS job that runs lab_checks.py once (task id "checks"), used to produce Proctor's pyATS fixtures."""
import os

from pyats.easypy import run


def main(runtime):
    here = os.path.dirname(os.path.abspath(__file__))
    run(testscript=os.path.join(here, "lab_checks.py"), runtime=runtime, taskid="checks")
