"""An aetest script whose common setup errors, so pyATS blocks every testcase (none of them gets sections)."""
from pyats import aetest


class CommonSetup(aetest.CommonSetup):
    @aetest.subsection
    def connect(self):
        raise ConnectionError("testbed unreachable")


class Upgrade(aetest.Testcase):
    @aetest.test
    def install_image(self):
        pass


@aetest.loop(vlan=[10, 20])
class VlanCheck(aetest.Testcase):
    @aetest.test
    def vlan_exists(self, vlan):
        pass


class CommonCleanup(aetest.CommonCleanup):
    @aetest.subsection
    def disconnect(self):
        pass
