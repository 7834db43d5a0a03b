"""The real `cdrouter` client (PyPI, QA Cafe) against Proctor's CDRouter dialect under /cdrouter.

CDRouter itself is commercial, so most packages here are stand-ins: job definitions tagged `cdrouter` whose
`shell` harness writes a JUnit file, which the executor turns into the run's test results. A package made with
the client has the `cdrouter` harness and runs `cdrouter-cli`; Tests/compat/run points `--cdrouter-cli` at
examples/cdrouter/cdrouter-cli-standin, which echoes its arguments and writes JUnit. Each job really runs
through the execution engine; the client only sees CDRouter jobs, results and test results.
"""
import json
import time
import urllib.request

import pytest

from cdrouter import CDRouter
from cdrouter.cdr_error import CDRouterError
from cdrouter.configs import Config
from cdrouter.devices import Device
from cdrouter.filters import Field as field
from cdrouter.jobs import Job, Options
from cdrouter.packages import Package

PASSING = (
    'echo "package=$CDROUTER_PACKAGE device=$CDROUTER_DEVICE tags=$CDROUTER_TAGS"; '
    "printf '%s' '<testsuite name=\"cdrouter\" tests=\"3\">"
    '<testcase classname="basic" name="cdrouter_basic_1" time="1.5"/>'
    '<testcase classname="basic" name="cdrouter_basic_2"/>'
    '<testcase classname="nat" name="cdrouter_nat_1"><failure message="no route">trace</failure></testcase>'
    "</testsuite>' > results.xml"
)
SLOW = "sleep 4; printf '%s' '<testsuite name=\"slow\"><testcase name=\"cdrouter_slow_1\"/></testsuite>' > results.xml"

LAB = {
    "testbeds": [
        {"group": "default", "name": "cdr-dut-1", "tags": ["cdr"],
         "interfaces": [{"value": "eth1", "is_wireless": False, "is_ics": False},
                        {"value": "wifi0", "is_wireless": True, "is_ics": False}]},
    ],
    "configs": [{"group": "default", "name": "cdr-config-1", "description": "LAN on eth1",
                 "contents": "testvar lanInterface eth1", "tags": ["cdr"]}],
    "definitions": [
        {"group": "default", "name": "cdr-dhcp", "harness": "shell", "job_file": PASSING,
         "tags": ["cdrouter", "nightly", "dhcp"], "description": "DHCP basics"},
        {"group": "default", "name": "cdr-nat", "harness": "shell", "job_file": PASSING,
         "tags": ["cdrouter", "nightly", "nat"], "description": "NAT basics"},
        {"group": "default", "name": "cdr-slow", "harness": "shell", "job_file": SLOW,
         "tags": ["cdrouter", "slow"], "description": "Keeps the executor busy"},
    ],
}

FINAL = {"completed", "stopped", "error"}


def apply_lab(url, token):
    request = urllib.request.Request(
        url + "/api/v1/apply", data=json.dumps(LAB).encode(), method="POST",
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


@pytest.fixture(scope="module")
def c(proctor_url, proctor_token):
    apply_lab(proctor_url, proctor_token)
    return CDRouter(proctor_url + "/cdrouter", token=proctor_token)


@pytest.fixture(scope="module")
def ids(c):
    return {
        "dhcp": c.packages.get_by_name("cdr-dhcp").id,
        "nat": c.packages.get_by_name("cdr-nat").id,
        "slow": c.packages.get_by_name("cdr-slow").id,
        "device": c.devices.get_by_name("cdr-dut-1").id,
        "config": c.configs.get_by_name("cdr-config-1").id,
    }


def wait_job(c, job_id, statuses=FINAL, seconds=60):
    deadline = time.time() + seconds
    while time.time() < deadline:
        job = c.jobs.get(job_id)
        if job.status in statuses:
            return job
        time.sleep(0.2)
    raise AssertionError("job %s did not reach %s: %s" % (job_id, statuses, c.jobs.get(job_id).status))


def wait_idle(c, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        page = c.jobs.list(filter=["status={pending,running}"], limit=1)
        if page.links.total == 0:
            return
        time.sleep(0.3)
    raise AssertionError("jobs still running")


def test_system_and_users(c, proctor_token):
    assert isinstance(c.system.hostname(), str)
    assert c.system.time().startswith("20")
    me = c.users.get(1)
    assert me.name == "admin" and me.admin is True
    assert c.users.change_token(1).token


def test_bad_token_and_unknown_job_raise_with_the_servers_message(c, proctor_url):
    with pytest.raises(CDRouterError) as failure:
        CDRouter(proctor_url + "/cdrouter", token="not-a-real-token-123").jobs.list()
    assert "insufficient privileges" in str(failure.value)
    assert failure.value.response.status_code == 401
    with pytest.raises(CDRouterError) as failure:
        c.jobs.get(987654)
    assert str(failure.value) == "no such job"
    assert failure.value.response.status_code == 404


def test_packages_devices_configs(c, ids):
    page = c.packages.list(filter=["tags@>{nightly}"], sort=["-name"], detailed=True)
    assert [p.name for p in page.data] == ["cdr-nat", "cdr-dhcp"]
    assert page.links.total == 2 and page.links.next is None
    package = c.packages.get(ids["dhcp"])
    assert package.description == "DHCP basics" and "nightly" in package.tags

    device = c.devices.get(ids["device"])
    assert device.name == "cdr-dut-1" and device.tags == ["cdr"]
    config = c.configs.get(ids["config"])
    assert config.contents == "testvar lanInterface eth1"

    made = c.configs.create(Config(name="cdr-config-new", description="made by the client", contents="testvar a 1"))
    assert made.description == "made by the client"
    made.description = "edited"
    assert c.configs.edit(made).description == "edited"
    c.configs.delete(made.id)
    with pytest.raises(CDRouterError, match="no such config"):
        c.configs.get(made.id)

    dev = c.devices.create(Device(name="cdr-dut-new", manufacturer="ACME", model_name="R1", tags=["x"]))
    assert dev.manufacturer == "ACME"
    dev.model_name = "R2"
    assert c.devices.edit(dev).model_name == "R2"
    c.devices.delete(dev.id)

    pkg = c.packages.create(Package(name="cdr-made", description="from the client", testlist=["cdrouter_basic_1"],
                                    device_id=ids["device"], config_id=ids["config"], tags=["made"]))
    assert pkg.test_count == 1 and pkg.device_id == ids["device"] and pkg.config_id == ids["config"]
    pkg.description = "edited"
    assert c.packages.edit(pkg).description == "edited"
    c.packages.delete(pkg.id)
    with pytest.raises(CDRouterError, match="no such package"):
        c.packages.get(pkg.id)


def test_launch_poll_result_and_tests(c, ids):
    job = c.jobs.launch(Job(package_id=ids["dhcp"], device_id=ids["device"], config_id=ids["config"],
                            options=Options(tags=["one", "two"], skip_tests=["cdrouter_basic_10"],
                                            begin_at="cdrouter_basic_1", end_at="", extra_cli_args="-v")))
    assert job.status in ("pending", "running")
    assert job.package_name == "cdr-dhcp" and job.device_name == "cdr-dut-1" and job.config_name == "cdr-config-1"
    assert job.options.tags == ["one", "two"] and job.options.skip_tests == ["cdrouter_basic_10"]
    assert job.interface_names == ["eth1", "wifi0"] and job.uses_wireless is True

    deadline = time.time() + 60
    while job.result_id is None and time.time() < deadline:
        time.sleep(0.2)
        job = c.jobs.get(job.id)
    assert job.result_id is not None

    deadline = time.time() + 60
    result = c.results.get(job.result_id)
    while result.status not in FINAL and time.time() < deadline:
        time.sleep(0.2)
        result = c.results.get(job.result_id)
    assert result.status == "completed"
    assert (result.tests, result.passed, result.fail) == (3, 2, 1)
    assert result.package_name == "cdr-dhcp" and result.tags == ["one", "two"]
    assert c.jobs.get(job.id).status == "completed" and c.jobs.get(job.id).active is False

    tests = list(c.tests.iter_list(job.result_id, limit=2))
    assert [t.name for t in tests] == ["cdrouter_basic_1", "cdrouter_basic_2", "cdrouter_nat_1"]
    assert [t.result for t in tests] == ["pass", "pass", "fail"]
    failed = c.tests.list(job.result_id, filter=["result=fail"]).data
    assert [t.name for t in failed] == ["cdrouter_nat_1"] and failed[0].log == "no route"
    assert c.results.list(filter=["id=%s" % job.result_id]).data[0].passed == 2


def test_a_cdrouter_package_runs_cdrouter_cli_with_the_job_options(c, ids, proctor_url, proctor_token):
    from cdrouter.configs import Testvar
    pkg = c.packages.create(Package(name="cdr-cli", testlist=["cdrouter_basic_1", "cdrouter_nat_1"],
                                    extra_cli_args="-pkg 'x y'", device_id=ids["device"], config_id=ids["config"]))
    try:
        job = c.jobs.launch(Job(package_id=pkg.id, options=Options(
            tags=["cli"], skip_tests=["cdrouter_nat_2"], begin_at="cdrouter_basic_1", end_at="cdrouter_nat_1",
            extra_cli_args="-v", testvars=[Testvar(group="default", name="lanIp", value="10.0.0.1")])))
        deadline = time.time() + 60
        while job.result_id is None and time.time() < deadline:
            time.sleep(0.2)
            job = c.jobs.get(job.id)
        assert job.result_id is not None
        job = wait_job(c, job.id)
        assert job.status == "completed"
        result = c.results.get(job.result_id)
        assert (result.tests, result.passed, result.fail) == (2, 1, 1)
        assert [t.result for t in c.tests.list(job.result_id, sort=["name"]).data] == ["pass", "fail"]

        # The native run's console holds the arguments the stand-in was given.
        headers = {"Authorization": "Bearer " + proctor_token}
        request = urllib.request.Request(proctor_url + "/api/v1/runs?filter=seq=%s" % job.id, headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            run = json.load(response)["items"][0]
        assert run["harness"] == "cdrouter" and run["tests_total"] == 2
        request = urllib.request.Request(proctor_url + "/api/v1/runs/%s/log" % run["id"], headers=headers)
        with urllib.request.urlopen(request, timeout=10) as response:
            log = response.read().decode()
        argv = [line[len("cdrouter-cli arg: "):] for line in log.splitlines() if line.startswith("cdrouter-cli arg: ")]
        junit = argv.index("-junit") + 1
        assert argv[junit].endswith("/cdrouter-junit.xml")
        argv[junit] = "JUNIT"
        assert argv == ["-package", "cdr-cli", "-device", "cdr-dut-1", "-config", "cdr-config-1",
                        "-testlist", "cdrouter_basic_1,cdrouter_nat_1", "-tags", "cli", "-skip-tests", "cdrouter_nat_2",
                        "-start", "cdrouter_basic_1", "-end", "cdrouter_nat_1", "-testvar", "lanIp=10.0.0.1",
                        "-junit", "JUNIT", "-pkg", "x y", "-v"]
    finally:
        c.packages.delete(pkg.id)


def test_edit_a_pending_job_and_delete(c, ids):
    blocker = c.jobs.launch(Job(package_id=ids["slow"]))
    wait_job(c, blocker.id, {"running"} | FINAL)
    queued = c.jobs.launch(Job(package_id=ids["dhcp"]))
    assert queued.status == "pending" and queued.result_id is None and queued.device_id == 0
    queued.package_id = ids["nat"]
    queued.device_id = ids["device"]
    edited = c.jobs.edit(queued)
    assert edited.package_name == "cdr-nat" and edited.device_name == "cdr-dut-1" and edited.config_id == 0
    assert c.jobs.delete(queued.id).status_code == 204
    with pytest.raises(CDRouterError, match="no such job"):
        c.jobs.get(queued.id)

    done = wait_job(c, blocker.id)
    done.package_id = ids["dhcp"]
    with pytest.raises(CDRouterError) as failure:
        c.jobs.edit(done)
    assert failure.value.response.status_code == 409


def test_get_interfaces(c, ids):
    interfaces = c.jobs.get_interfaces(Job(package_id=ids["dhcp"], device_id=ids["device"]))
    assert [(i.value, i.is_wireless) for i in interfaces] == [("eth1", False), ("wifi0", True)]
    assert c.jobs.get_interfaces(Job(package_id=ids["dhcp"])) == []
    # The API docs' example: a -testvar lanInterface in extra_cli_args names the LAN interface.
    moved = c.jobs.get_interfaces(Job(package_id=ids["dhcp"], device_id=ids["device"],
                                      options=Options(extra_cli_args="-testvar lanInterface=eth2")))
    assert [i.value for i in moved] == ["eth2", "wifi0"]


def test_bulk_launch_by_jobs_filter_and_all(c, ids):
    launched = c.jobs.bulk_launch(jobs=[Job(package_id=ids["dhcp"]), Job(package_id=ids["nat"], options=Options(tags=["blue"]))])
    assert [j.package_name for j in launched] == ["cdr-dhcp", "cdr-nat"]
    assert launched[1].options.tags == ["blue"]

    by_filter = c.jobs.bulk_launch(_fields=Job(device_id=ids["device"], options=Options(tags=["monday"])),
                                   filter=["tags@>{nightly}", "name~nat"], type="inter")
    assert [(j.package_name, j.device_name, j.options.tags) for j in by_filter] == [("cdr-nat", "cdr-dut-1", ["monday"])]

    everything = c.jobs.bulk_launch(_fields=Job(), all=True)
    assert sorted(j.package_name for j in everything) == ["cdr-dhcp", "cdr-nat", "cdr-slow"]
    with pytest.raises(CDRouterError):
        c.jobs.bulk_launch(_fields=Job())
    wait_idle(c)


def test_a_refused_bulk_launch_launches_nothing(c, ids):
    wait_idle(c)
    before = c.jobs.list(limit=1).links.total
    with pytest.raises(CDRouterError) as failure:
        c.jobs.bulk_launch(jobs=[Job(package_id=ids["dhcp"]), Job(package_id="987654")])
    assert failure.value.response.status_code == 404
    assert c.jobs.list(limit=1).links.total == before


def test_list_filters_sort_paging_and_detail(c, ids):
    wait_idle(c)
    for tags in (["alpha"], ["alpha", "beta"], ["gamma"]):
        c.jobs.launch(Job(package_id=ids["nat"], options=Options(tags=tags)))
    wait_idle(c)
    every = list(c.jobs.iter_list(limit=2))
    total = c.jobs.list(limit=1).links.total
    assert len(every) == total and len({j.id for j in every}) == total and total >= 6
    assert [j.id for j in every] == sorted(j.id for j in every)

    summary = c.jobs.list(limit=3).data[0]
    assert summary.options is None and summary.interfaces is None
    assert c.jobs.list(limit=3, detailed=True).data[0].options is not None

    page = c.jobs.list(limit=2, page=2)
    assert (page.links.current, page.links.prev, page.links.limit) == (2, 1, 2)
    last = c.jobs.list(limit=2, page=page.links.last)
    assert last.links.next is None

    first, second = every[0].id, every[1].id

    def names(filters, type=None, sort=None):
        return [j.id for j in c.jobs.iter_list(filter=filters, type=type, sort=sort, limit=50)]

    assert names(["id=%d" % first]) == [first]
    assert first not in names(["id!=%d" % first])
    assert names(["id<%d" % second]) == [j.id for j in every if j.id < second]
    assert names(["id<=%d" % second]) == [j.id for j in every if j.id <= second]
    assert names(["id>%d" % first]) == [j.id for j in every if j.id > first]
    assert names(["id>=%d" % second]) == [j.id for j in every if j.id >= second]
    assert names(["id={%d,%d}" % (first, second)]) == [first, second]
    nat = [j.id for j in every if j.package_name == "cdr-nat"]
    assert names(["package_name~^cdr-n"]) == nat
    assert names(["package_name~*^CDR-N"]) == nat
    assert names(["package_name!~nat"]) == [j.id for j in every if j.package_name != "cdr-nat"]
    assert names(["package_name!~*NAT"]) == [j.id for j in every if j.package_name != "cdr-nat"]
    alpha = names(["tags@>{alpha}"])
    assert len(alpha) == 2
    assert len(names(["tags@>{alpha,beta}"])) == 1
    assert set(names(["tags<@{alpha,beta}"])) >= set(alpha)
    assert len(names(["tags&&{beta,gamma}"])) == 2
    assert set(names(["tags@>{alpha}", "tags@>{gamma}"], type="union")) == set(names(["tags&&{alpha,gamma}"]))
    assert names(["tags@>{alpha}", "tags@>{gamma}"], type="inter") == []
    assert names([str(field("status").eq("completed")), str(field("package_id").eq(ids["nat"]))]) == nat
    assert names(["active=true"]) == []
    assert names(["device_name=cdr-dut-1"]) == [j.id for j in every if j.device_name == "cdr-dut-1"]

    ordered = list(c.jobs.iter_list(sort=["-package_name", "id"], limit=4))
    keys = [(j.package_name, j.id) for j in ordered]
    assert keys == sorted(sorted(keys, key=lambda k: k[1]), key=lambda k: k[0], reverse=True)
    assert len(keys) == total

    with pytest.raises(CDRouterError, match="invalid filter"):
        c.jobs.list(filter=["nosuchfield=1"])


def test_bulk_delete_by_ids_filter_and_all(c, ids):
    wait_idle(c)
    every = list(c.jobs.iter_list())
    c.jobs.bulk_delete(ids=[every[0].id, every[1].id])
    remaining = {j.id for j in c.jobs.iter_list()}
    assert every[0].id not in remaining and every[1].id not in remaining

    assert any(j.package_name == "cdr-slow" for j in c.jobs.iter_list())
    c.jobs.bulk_delete(filter=["package_name=cdr-slow"])
    assert not any(j.package_name == "cdr-slow" for j in c.jobs.iter_list())

    c.jobs.bulk_delete(all=True)
    assert c.jobs.list().links.total == 0
