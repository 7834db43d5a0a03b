"""XPRESSO compatibility: the documents' example lab, applied with `proctor apply`, answered key for key.

Applies examples/xpresso-lab.yaml through the proctor CLI (PROCTOR_BIN, default .build/debug/proctor), walks
every endpoint of seeds 000 and 001 under /xpresso/api/v2 and compares each answer with the documented example
(Tests/compat/xpresso/*.json): the same keys, recursively, and the same JSON types; only ids and dates differ,
and dates keep XPRESSO's form (microseconds and Z). Then runs a job of the lab through a request on the local
executor and finds the run, with its test results, in the native API.

XPRESSO publishes no client library, so the client here is plain `requests`, sending what XPRESSO's docs show:
`Authorization: Token <t>` and the group in a header.
"""
import json
import os
import re
import subprocess
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
USER_TOKEN = "xp_user_automation_token_0001"  # member of myGroup with add_docker_image
USER2_TOKEN = "xp_user2_automation_token_0001"  # member of myGroup without it
OUTSIDER_TOKEN = "xp_outsider_automation_token_01"  # member of otherGroup only
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def example(name):
    with open(os.path.join(HERE, "xpresso", name + ".json")) as f:
        return json.load(f)


def kind(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def same_shape(ours, documented, path="$", strict=True):
    """Asserts `ours` has the keys and types of `documented`, recursively; lists compare each item with the
    documented first item, and must not be empty where the documented one is not (unless not strict)."""
    assert kind(ours) == kind(documented), f"{path}: {kind(ours)} where the example has {kind(documented)}"
    if isinstance(documented, dict):
        assert set(ours) == set(documented), (
            f"{path}: extra keys {sorted(set(ours) - set(documented))}, missing {sorted(set(documented) - set(ours))}"
        )
        for key, value in documented.items():
            if key.startswith("date_") and isinstance(value, str):
                assert DATE.match(ours[key]), f"{path}.{key}: {ours[key]!r} is not a date with microseconds and Z"
            same_shape(ours[key], value, f"{path}.{key}", strict)
    elif isinstance(documented, list) and documented:
        if strict:
            assert ours, f"{path}: empty where the example lists items"
        for index, item in enumerate(ours):
            same_shape(item, documented[0], f"{path}[{index}]", strict)


def same_list(ours, documented, name):
    """A list answer: the lab's copy of the documented item compares strictly, every other item loosely."""
    assert isinstance(ours, list) and ours
    named = [item for item in ours if item.get("name") == name]
    assert len(named) == 1, f"expected one item named {name}"
    same_shape(named[0], documented[0])
    for item in ours:
        same_shape(item, documented[0], strict=False)


@pytest.fixture(scope="module")
def xp(proctor_url, proctor_token):
    binary = os.environ.get("PROCTOR_BIN", os.path.join(ROOT, ".build", "debug", "proctor"))
    lab = os.path.join(ROOT, "examples", "xpresso-lab.yaml")
    for attempt in (1, 2):
        out = subprocess.run(
            [binary, "apply", "-f", lab, "--server", proctor_url, "--token", proctor_token],
            capture_output=True, text=True, timeout=60,
        )
        assert out.returncode == 0, out.stderr
        if attempt == 2:
            assert re.search(r"^0 created, 0 updated, \d+ unchanged$", out.stdout, re.M), out.stdout

    class Client:
        base = proctor_url + "/xpresso/api/v2"

        def call(self, method, path, token=USER_TOKEN, group="myGroup", **kwargs):
            headers = {"Authorization": f"Token {token}"}
            if group:
                headers["X-Xpresso-Group"] = group
            return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

        def get(self, path, **kwargs):
            response = self.call("GET", path, **kwargs)
            assert response.status_code == 200, response.text
            return response.json()

        def native(self, path):
            response = requests.get(proctor_url + "/api/v1" + path, headers={"Authorization": f"Bearer {proctor_token}"}, timeout=30)
            assert response.status_code == 200, response.text
            return response.json()

    return Client()


def test_jobs_list_get_and_search_answer_as_documented(xp):
    jobs = xp.get("/jobs")
    same_list(jobs, example("jobs"), "My_Awesome_Test")
    awesome = next(job for job in jobs if job["name"] == "My_Awesome_Test")
    same_shape(xp.get(f"/jobs/{awesome['id']}"), example("job"))
    assert awesome["harness"] == "pyATS" and awesome["site"] is None

    found = xp.call("POST", "/jobs/search", json={"name": ["My_Awesome_Test", "nope"], "tags": ["pyats"]})
    assert found.status_code == 200, found.text
    same_list(found.json(), example("jobs_search"), "My_Awesome_Test")
    assert [job["name"] for job in found.json()] == ["My_Awesome_Test"]
    by_group = xp.call("POST", "/jobs/search", json={"group": ["myGroup"], "id": [awesome["id"]]}, group=None)
    assert [job["id"] for job in by_group.json()] == [awesome["id"]]


def test_bundles_and_profiles_answer_as_documented(xp):
    bundles = xp.get("/bundles")
    same_list(bundles, example("bundles"), "firstbundle")
    bundle = bundles[0]
    same_shape(xp.get(f"/bundles/{bundle['id']}"), example("bundle"))
    assert len(bundle["profile_ids"]) == 2 and [p["id"] for p in bundle["profiles"]] == bundle["profile_ids"]

    profiles = xp.get("/profiles")
    same_list(profiles, example("profiles"), "DEFAULT")
    default = next(p for p in profiles if p["name"] == "DEFAULT")
    same_shape(xp.get(f"/profile/{default['id']}"), example("profile"))
    same_shape(xp.get(f"/profiles/{default['id']}"), example("profile"))
    assert default["engine_instance"]["name"] == "ExecEngine"
    assert default["jobargs"][0]["job_arg"] == 13 and default["testbeds"][0]["name"] == "MyTestbed"


def test_harnesses_and_engines_answer_as_documented(xp):
    harnesses = xp.get("/harnesses")
    same_list(harnesses, example("harnesses"), "TestHarness")
    harness = next(h for h in harnesses if h["name"] == "TestHarness")
    same_shape(xp.get(f"/harnesses/{harness['id']}"), example("harness"))
    engines = xp.get("/engines")
    same_list(engines, example("engines"), "ExecEngine")
    same_shape(xp.get(f"/engines/{engines[0]['id']}"), example("engine"))


def test_polaris_build_answers_as_documented_and_ends_failed_without_a_builder(xp):
    body = {"name": "polaris-image", "tag": "polaris-tag", "git_ref": "git_ref_191", "groups": ["myGroup"]}
    response = xp.call("POST", "/images/polaris_build", json=body)
    assert response.status_code == 200, response.text
    image = response.json()
    same_shape(image, example("polaris_build"))
    assert image["status"] == "building" and image["group"] == "myGroup"
    assert image["nfs_path"].endswith("/myGroup/polaris-image/polaris-tag.tar")
    assert "'submitter': 'user'" in image["data"]
    # No container engine here: `docker build` fails, and so does the build.
    for _ in range(300):
        status = xp.native(f"/image_builds/{image['uuid']}")["status"]
        if status != "building":
            break
        time.sleep(0.1)
    assert status == "failed"

    refused = xp.call("POST", "/images/polaris_build", token=USER2_TOKEN, json=body)
    assert refused.status_code == 403 and "detail" in refused.json()
    bad = xp.call("POST", "/images/polaris_build", json=dict(body, git_ref="--upload-pack=x"))
    assert bad.status_code == 400 and "git_ref" in bad.json()["detail"]


def test_errors_are_xpresso_shaped(xp):
    assert xp.call("GET", "/jobs", token="nope-nope-nope").status_code == 401
    missing = requests.get(xp.base + "/jobs", timeout=10)
    assert missing.status_code == 401 and "detail" in missing.json()
    nothing = xp.call("POST", "/jobs/search", json={"name": ["no-such-job"]})
    assert (nothing.status_code, nothing.json()) == (404, {"detail": "Not Found"})
    assert xp.call("POST", "/jobs/search", json={}).status_code == 400
    assert xp.call("GET", "/jobs/00000000-0000-0000-0000-000000000000").json() == {"detail": "Not Found"}
    # Unserved methods are DRF's 405, unknown paths Django's 404, a limit beyond 1000 a 400.
    refused = xp.call("DELETE", "/profiles/00000000-0000-0000-0000-000000000000")
    assert (refused.status_code, refused.json()) == (405, {"detail": 'Method "DELETE" not allowed.'})
    assert refused.headers["Allow"] == "GET, HEAD"
    unknown = xp.call("GET", "/no-such-endpoint")
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not Found"})
    assert xp.call("GET", "/jobs", params={"limit": 1001}).status_code == 400
    # Tenancy: another group's member neither sees the jobs nor may act in the group.
    awesome = next(job for job in xp.get("/jobs") if job["name"] == "My_Awesome_Test")
    hidden = xp.call("GET", f"/jobs/{awesome['id']}", token=OUTSIDER_TOKEN, group=None)
    assert (hidden.status_code, hidden.json()) == (404, {"detail": "Not Found"})
    assert xp.call("GET", "/jobs", token=OUTSIDER_TOKEN).status_code == 403
    assert xp.get("/jobs", token=OUTSIDER_TOKEN, group=None) == []


def test_a_request_runs_the_job_on_the_local_executor(xp):
    profile = next(p for p in xp.get("/profiles") if p["name"] == "LOCAL")
    response = xp.call("POST", "/requests", json={"profile": profile["id"], "testbeds": ["MyTestbed"]})
    assert response.status_code == 201, response.text
    submitted = response.json()
    assert re.match(r"^REQ\d{7,}$", submitted["request_id"]) and len(submitted["items"]) == 1
    assert submitted["items"][0]["id"] == submitted["request_id"] + "-1"
    for _ in range(600):
        followed = xp.get(f"/requests/{submitted['request_id']}")
        if followed["state"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert followed["state"] == "COMPLETED" and followed["result"] == "PASSED", followed
    run_id = followed["items"][0]["run_id"]
    run = xp.native(f"/runs/{run_id}")
    assert run["status"] == "success" and run["request_id"] == submitted["request_id"]
    tests = xp.native(f"/runs/{run_id}/tests")["items"]
    assert sorted(t["name"] for t in tests) == ["ping", "traceroute"]
