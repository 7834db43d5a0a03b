"""A pyATS job (`pyats run job smoke_job.py`) that runs smoke.py: the pyATS harness's example job."""
import os

from pyats.easypy import run


def main(runtime):
    run(testscript=os.path.join(os.path.dirname(os.path.abspath(__file__)), "smoke.py"), runtime=runtime)
