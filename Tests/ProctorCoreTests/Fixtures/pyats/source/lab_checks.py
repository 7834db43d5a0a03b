"""A tiny aetest script with one section of each outcome, used to produce Proctor's pyATS fixtures."""
import logging

from pyats import aetest

log = logging.getLogger(__name__)


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def connect(self):
        log.info("pretend to connect")

    @aetest.subsection
    def load_config(self):
        self.passx("known issue: config reload is slow")


class PassingTest(aetest.Testcase):
    @aetest.setup
    def setup(self):
        pass

    @aetest.test
    def ping(self, steps, fixed=False):
        with steps.start("ping loopback") as step:
            step.passed("ok")
        with steps.start("ping gateway") as step:
            if fixed:
                # The second fixture's run: the fix for check_version broke the gateway.
                step.failed("100% loss")
            step.passed("ok")

    @aetest.cleanup
    def cleanup(self):
        pass


class FailingTest(aetest.Testcase):
    @aetest.test
    def check_version(self, fixed=False):
        if not fixed:
            self.failed("expected 17.3, found 16.9")

    @aetest.test
    def check_interfaces(self, steps):
        with steps.start("Gi0/0 is up") as step:
            step.passed("up")
        with steps.start("Gi0/1 is up", continue_=True) as step:
            step.failed("Gi0/1 is down")


class ErroredTest(aetest.Testcase):
    @aetest.test
    def parse_output(self):
        raise ValueError("unexpected output from device")


class SkippedTest(aetest.Testcase):
    @aetest.test
    def needs_wireless(self):
        self.skipped("testbed has no wireless interface")


class BlockedTest(aetest.Testcase):
    @aetest.setup
    def setup(self):
        self.failed("setup failed", goto=["next_tc"])

    @aetest.test
    def never_runs(self):
        pass


class AbortedTest(aetest.Testcase):
    @aetest.test
    def abort_here(self):
        self.aborted("device rebooted unexpectedly")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def disconnect(self):
        pass


if __name__ == "__main__":
    aetest.main()
