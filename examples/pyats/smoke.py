"""A pyATS aetest testscript for examples/pyats/smoke_job.py: two sections pass, one fails with a reason."""
from pyats import aetest


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def connect(self):
        print("connecting to the testbed")


class Ping(aetest.Testcase):
    @aetest.test
    def reach(self):
        print("64 bytes from 192.0.2.1: icmp_seq=1 ttl=64")

    @aetest.test
    def lossless(self):
        self.failed("lost 1 of 5 packets")


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def disconnect(self):
        print("disconnected")
