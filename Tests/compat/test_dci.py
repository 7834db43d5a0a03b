"""The real, unmodified dciclient/dciauth (Python API and the dcictl, dci-create-job and dci-find-latest-component
commands) against Proctor's DCI dialect, with DCI_CS_URL=<server>/dci and the remote CI of examples/lab.yaml."""
import argparse
import datetime
import json
import os
import shutil
import subprocess

import pytest
import requests

import dciauth.v2.headers as dciauth_headers
from dciclient.v1.api import component as dci_component
from dciclient.v1.api import context as dci_context
from dciclient.v1.api import file as dci_file
from dciclient.v1.api import identity as dci_identity
from dciclient.v1.api import job as dci_job
from dciclient.v1.api import jobstate as dci_jobstate
from dciclient.v1.api import topic as dci_topic
from dciclient.v1.shell_commands import job as dci_shell_job

PARTNER_ID = "6cee7286-5d99-4a96-9949-200977f4be07"
PARTNER_SECRET = "partner-ci-secret-0123456789abcdef"
TOPIC = "RHEL-8.2"

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites>
  <testsuite name="smoke" tests="5">
    <testcase classname="smoke.net" name="ping" time="0.5"/>
    <testcase classname="smoke.net" name="dns" time="1.5"/>
    <testcase classname="smoke.disk" name="fio" time="3"><failure message="slow">too slow</failure></testcase>
    <testcase classname="smoke.disk" name="smart"><error message="no device"/></testcase>
    <testcase classname="smoke.gpu" name="cuda"><skipped/></testcase>
  </testsuite>
</testsuites>
"""


@pytest.fixture(scope="module")
def dci_url(proctor_url):
    return proctor_url + "/dci"


@pytest.fixture(scope="module")
def ctx(dci_url):
    # Fewer retries than the default 10 only so that a failure fails fast; nothing else differs.
    return dci_context.build_signature_context(
        dci_cs_url=dci_url, dci_client_id="remoteci/" + PARTNER_ID, dci_api_secret=PARTNER_SECRET, max_retries=2
    )


@pytest.fixture(scope="module")
def topic_id(ctx):
    r = dci_topic.list(ctx, where="name:" + TOPIC, limit=50, offset=0)
    assert r.status_code == 200, r.text
    return r.json()["topics"][0]["id"]


@pytest.fixture(scope="module")
def components(ctx, topic_id):
    r = dci_topic.list_components(ctx, topic_id, where="state:active", limit=50, offset=0)
    assert r.status_code == 200, r.text
    return r.json()["components"]


def run_tool(dci_url, tool, *args, env_extra=None):
    """Runs a dciclient command with the remote CI's credentials from the environment; stdout is JSON."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DCI_", "SSO_"))}
    env.update(DCI_CS_URL=dci_url, DCI_CLIENT_ID=PARTNER_ID, DCI_API_SECRET=PARTNER_SECRET)
    env.update(env_extra or {})
    command = [shutil.which(tool) or tool, "--format", "json", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def tool_json(dci_url, tool, *args):
    proc = run_tool(dci_url, tool, *args)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return json.loads(proc.stdout)


def dcictl(dci_url, *args):
    return tool_json(dci_url, "dcictl", *args)


def is_dci_error(response, status):
    body = response.json()
    return (
        response.status_code == status
        and body["status_code"] == status
        and isinstance(body["message"], str)
        and isinstance(body["payload"], dict)
    )


def new_job(ctx, topic_id, components, name):
    r = dci_job.create(ctx, topic_id, components=[c["id"] for c in components], name=name, tags=["compat"])
    assert r.status_code == 201, r.text
    return r.json()["job"]


# Identity and auth ------------------------------------------------------------------------------------------


def test_identity(ctx):
    r = dci_identity.get(ctx)
    assert r.status_code == 200, r.text
    identity = r.json()["identity"]
    assert identity["id"] == PARTNER_ID
    teams = identity["teams"]
    assert isinstance(teams, dict) and len(teams) == 1
    assert dci_identity.my_team_id(ctx) == next(iter(teams))
    assert next(iter(teams.values()))["team_name"] == "default"


def test_basic_auth_identity(dci_url):
    ctx = dci_context.build_dci_context(dci_url, "alice", "alice-password", max_retries=2)
    r = dci_identity.get(ctx)
    assert r.status_code == 200, r.text
    assert r.json()["identity"]["name"] == "alice"
    proc = run_tool(dci_url, "dcictl", "topic-list", env_extra={"DCI_CLIENT_ID": "", "DCI_API_SECRET": "",
                                                                "DCI_LOGIN": "alice", "DCI_PASSWORD": "alice-password"})
    assert proc.returncode == 0, proc.stderr
    assert TOPIC in [t["name"] for t in json.loads(proc.stdout)["topics"]]


def test_wrong_secret_is_refused(dci_url):
    ctx = dci_context.build_signature_context(
        dci_cs_url=dci_url, dci_client_id="remoteci/" + PARTNER_ID, dci_api_secret="not-the-secret", max_retries=0
    )
    r = dci_identity.get(ctx)
    assert is_dci_error(r, 401), r.text
    assert "signature is invalid" in r.json()["message"]


def test_expired_date_is_refused(ctx, monkeypatch):
    twenty_minutes_ago = datetime.datetime.utcnow() - datetime.timedelta(minutes=20)
    monkeypatch.setattr(dciauth_headers, "get_now", lambda: twenty_minutes_ago)
    r = dci_identity.get(ctx)
    assert is_dci_error(r, 401), r.text
    assert "expired" in r.json()["message"]


def test_tampered_body_is_refused(ctx, topic_id, components):
    body = {"topic_id": topic_id, "components": [components[0]["id"]], "name": "tampered"}
    prepared = ctx.session.prepare_request(requests.Request("POST", ctx.dci_cs_api + "/jobs", json=body))
    prepared.body = prepared.body.replace(b"tampered", b"tampereD")
    r = ctx.session.send(prepared)
    assert is_dci_error(r, 401), r.text
    assert "signature is invalid" in r.json()["message"]
    # The same request, untouched, is accepted.
    ok = ctx.session.send(ctx.session.prepare_request(requests.Request("POST", ctx.dci_cs_api + "/jobs", json=body)))
    assert ok.status_code == 201, ok.text


# Topics, components, products ------------------------------------------------------------------------------


def test_dcictl_topic_list(dci_url):
    out = dcictl(dci_url, "topic-list")
    assert TOPIC in [t["name"] for t in out["topics"]]
    assert out["_meta"]["count"] >= 1


def test_dcictl_component_list(dci_url, topic_id):
    out = dcictl(dci_url, "component-list", "--topic-id", topic_id)
    names = sorted(c["name"] for c in out["components"])
    assert names == ["RHEL-8.2.0-20191029.n.0", "hwcert-1572272875"]
    assert out["_meta"]["count"] == 2


def test_find_latest_component(dci_url):
    found = tool_json(dci_url, "dci-find-latest-component", "--topic", TOPIC, "RHEL", "Compose")
    assert found["name"] == "RHEL-8.2.0-20191029.n.0"


def test_unknown_parameter_is_a_400(ctx):
    r = ctx.session.get(ctx.dci_cs_api + "/topics", params={"nope": "1"})
    assert is_dci_error(r, 400), r.text


# Jobs -----------------------------------------------------------------------------------------------------


def test_job_through_jobstates_to_success(ctx, topic_id, components):
    job = new_job(ctx, topic_id, components, "compat-states")
    assert job["status"] == "new"
    assert ctx.last_job_id == job["id"]
    for status in ("pre-run", "running", "success"):
        r = dci_jobstate.create(ctx, status=status, comment="", job_id=job["id"])
        assert r.status_code == 201, r.text
        assert r.json()["jobstate"]["status"] == status
    r = dci_job.get(ctx, job["id"])
    assert r.status_code == 200
    assert r.json()["job"]["status"] == "success"
    states = dci_job.list_jobstates(ctx, job["id"], sort="created_at").json()["jobstates"]
    assert [s["status"] for s in states] == ["new", "pre-run", "running", "success"]


def test_failure_while_new_is_recorded_as_error(ctx, topic_id, components):
    job = new_job(ctx, topic_id, components, "compat-early-failure")
    r = dci_jobstate.create(ctx, status="failure", comment="boom", job_id=job["id"])
    assert r.status_code == 201, r.text
    assert r.json()["jobstate"]["status"] == "error"


def test_schedule(ctx, topic_id):
    r = dci_job.schedule(ctx, topic_id, name="compat-scheduled")
    assert r.status_code == 201, r.text
    job_id = r.json()["job"]["id"]
    assert ctx.last_job_id == job_id
    picked = dci_job.get_components(ctx, job_id).json()["components"]
    assert sorted(c["type"] for c in picked) == ["Compose", "hwcert"]


def test_dci_create_job(dci_url):
    out = tool_json(
        dci_url, "dci-create-job", "--name", "compat-cli", "--topic", TOPIC, "--remoteci", "partner-ci",
        "--comp", "hwcert-1572272875", "--comp", "RHEL-8.2.0-20191029.n.0", "--tag", "cli", "--key-value", "score=1.5",
        "--comment", "from dci-create-job",
    )
    job = out["job"]
    assert job["name"] == "compat-cli"
    assert job["tags"] == ["cli"]
    assert job["comment"] == "from dci-create-job"
    assert job["remoteci_id"] == PARTNER_ID
    assert [(kv["key"], kv["value"]) for kv in job["keys_values"]] == [("score", 1.5)]
    assert sorted(c["name"] for c in job["components"]) == ["RHEL-8.2.0-20191029.n.0", "hwcert-1572272875"]


def test_dcictl_job_list_and_show(dci_url, ctx, topic_id, components):
    job = new_job(ctx, topic_id, components, "compat-listed")
    listed = dcictl(dci_url, "job-list")
    assert listed["_meta"]["count"] >= 1
    first = listed["jobs"][0]
    assert first["id"] == job["id"]
    assert first["topic"]["name"] == TOPIC
    assert first["remoteci"]["id"] == PARTNER_ID
    assert first["team"]["name"] == "default"
    shown = dcictl(dci_url, "job-show", job["id"])["job"]
    assert shown["id"] == job["id"]
    assert shown["name"] == "compat-listed"


def test_job_search_and_dcictl_job_search(dci_url, ctx, topic_id, components):
    # job.search posts the query in the query string, no body; the answer is the analytics service's
    # Elasticsearch result (hits.total.value, hits.hits[]._source), or only _meta when nothing matches.
    first = new_job(ctx, topic_id, components, "compat-searched-1")
    second = new_job(ctx, topic_id, components, "compat-searched-2")
    r = dci_job.search(ctx, query="(name=~'compat-searched-.*') and (topic.name='%s')" % TOPIC, sort="name",
                       limit=10, offset=0)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["hits"]["total"] == {"value": 2, "relation": "eq"}
    assert [h["_id"] for h in body["hits"]["hits"]] == [first["id"], second["id"]]
    assert body["hits"]["hits"][0]["_source"]["team"]["name"] == "default"
    assert body["_meta"] == {}
    r = dci_job.search(ctx, query="(name='compat-searched-1') and (tags not_in ['compat'])")
    assert (r.status_code, r.json()) == (200, {"_meta": {}})
    r = dci_job.search(ctx, query="(name='unterminated")
    assert is_dci_error(r, 400) and r.json()["message"] == "syntax error while parsing the query"
    # dcictl job-search: its defaults (sort=-created_at, limit=10, offset=0) and --includes.
    out = dcictl(dci_url, "job-search", "--query", "name='compat-searched-2'", "--includes", "id,name")
    assert out["hits"]["hits"] == [
        {"_index": "jobs", "_id": second["id"], "_score": None,
         "_source": {"id": second["id"], "name": "compat-searched-2"}}
    ]


def test_job_iter_ends(ctx):
    total = dci_job.list(ctx, limit=1, offset=0).json()["_meta"]["count"]
    seen = [j["id"] for j in dci_job.iter(ctx, limit=2)]
    assert len(seen) == total == len(set(seen))


def test_update_with_etag(dci_url, ctx, topic_id, components):
    job = new_job(ctx, topic_id, components, "compat-update")
    # dcictl job-update reads the etag itself, then PUTs with If-match.
    updated = dcictl(dci_url, "job-update", job["id"], "--comment", "updated by dcictl", "--status_reason", "why")["job"]
    assert updated["comment"] == "updated by dcictl"
    assert updated["status_reason"] == "why"
    # The stale etag is refused, the fresh one accepted.
    stale = dci_job.update(ctx, id=job["id"], etag=job["etag"], comment="stale")
    assert is_dci_error(stale, 409), stale.text
    fresh = dci_job.update(ctx, id=job["id"], etag=updated["etag"], status="running")
    assert fresh.status_code == 200, fresh.text
    assert fresh.json()["job"]["status"] == "running"
    # Tags go through GET + PUT with the etag.
    assert dci_job.add_tag(ctx, job["id"], "nightly").status_code == 200
    assert dci_job.list_tags(ctx, job["id"])["tags"] == ["compat", "nightly"]
    assert dci_job.delete_tag(ctx, job["id"], "compat").status_code == 200
    assert dci_job.list_tags(ctx, job["id"])["tags"] == ["nightly"]
    # No If-match at all.
    r = ctx.session.put(ctx.dci_cs_api + "/jobs/" + job["id"], json={"comment": "x"})
    assert is_dci_error(r, 412), r.text


def test_delete(dci_url, ctx, topic_id, components):
    job = new_job(ctx, topic_id, components, "compat-delete")
    proc = run_tool(dci_url, "dcictl", "job-delete", job["id"], "--etag", job["etag"])
    assert proc.returncode == 0 and proc.stdout.strip() == "", (proc.stdout, proc.stderr)
    r = dci_job.get(ctx, job["id"])
    assert is_dci_error(r, 404), r.text


# Files and results ------------------------------------------------------------------------------------------


def test_upload_junit_with_and_without_mime(dci_url, ctx, topic_id, components, scratch_dir):
    job = new_job(ctx, topic_id, components, "compat-junit")
    path = os.path.join(scratch_dir, "junit.xml")
    with open(path, "w") as f:
        f.write(JUNIT)
    with_mime = dcictl(dci_url, "job-upload-file", job["id"], "--name", "junit.xml", "--path", path,
                       "--mime", "application/junit")["file"]
    assert with_mime["mime"] == "application/junit"
    assert with_mime["size"] == str(len(JUNIT.encode()))
    # Without --mime dcictl sends no DCI-MIME and Content-Type: application/json over the XML.
    without = dcictl(dci_url, "job-upload-file", job["id"], "--name", "junit-again.xml", "--path", path)["file"]
    assert without["job_id"] == job["id"]
    # A plain log through the Python API, attached to a jobstate.
    state = dci_jobstate.create(ctx, status="running", comment="", job_id=job["id"]).json()["jobstate"]
    log = dci_file.create(ctx, "console.log", content="line 1\nline 2\n", mime="text/plain",
                          jobstate_id=state["id"], job_id=job["id"])
    assert log.status_code == 201, log.text

    results = dcictl(dci_url, "job-results", job["id"])
    assert results["_meta"]["count"] == 2
    for result in results["results"]:
        assert (result["total"], result["success"], result["failures"], result["errors"], result["skips"]) == (5, 2, 1, 1, 1)
        assert result["time"] == 5
    assert sorted(r["name"] for r in results["results"]) == ["junit-again.xml", "junit.xml"]

    files = dci_job.list_files(ctx, job["id"], sort="created_at").json()["files"]
    assert [f["name"] for f in files] == ["junit.xml", "junit-again.xml", "console.log"]
    assert dci_file.content(ctx, with_mime["id"]).text == JUNIT
    target = os.path.join(scratch_dir, "downloaded.xml")
    dci_file.download(ctx, job["id"], with_mime["id"], target)
    with open(target) as f:
        assert f.read() == JUNIT
    # What `dcictl job-output` gathers (the command itself crashes printing its list, in dciclient 4.2):
    # the files of each jobstate, in order.
    output = dci_shell_job.output(ctx, argparse.Namespace(id=job["id"]))
    assert output == ["line 1\nline 2\n"]


def test_dci_job_is_a_native_run(proctor_url, proctor_token, ctx, topic_id, components):
    job = new_job(ctx, topic_id, components, "compat-native")
    dci_jobstate.create(ctx, status="success", comment="", job_id=job["id"])
    r = requests.get(proctor_url + "/api/v1/runs/" + job["id"], headers={"Authorization": "Bearer " + proctor_token})
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["executor"] == "client"
    assert run["status"] == "success"
    assert run["remoteci_id"] == PARTNER_ID


def test_components_by_type_and_tag(ctx, topic_id):
    r = dci_topic.list_components(ctx, topic_id, where="type:hwcert", sort="-released_at", limit=1, offset=0)
    assert r.status_code == 200, r.text
    assert r.json()["components"][0]["name"] == "hwcert-1572272875"
    r = dci_component.get(ctx, r.json()["components"][0]["id"])
    assert r.status_code == 200 and r.json()["component"]["type"] == "hwcert"
