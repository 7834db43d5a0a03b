#!/usr/bin/env python3
"""DCI benchmark: the workload of reference/anchors.md §9, against a running Proctor.

1. Seeds N jobs with the real dciclient, as a remote CI does (create, jobstate running, JUnit upload, final
   jobstate), with 8 threads.
2. Times three requests with wrk at 8 and 32 connections (HMAC-signed like dciclient; a DCI signature stays valid
   for 15 minutes, so requests are signed up front and replayed):
   GET /jobs?limit=50&offset=0&sort=-created_at, GET /jobs/{id} (over 500 ids), POST /jobstates.
With --server-pid (Benchmarks/dci.sh passes it), also the server's CPU time per seeded job and per request, read
from /proc/PID/stat: the stable figure on a busy machine, and the one the real DCI server was measured by
(reference/anchors.md §9), without the client's own work.

Usage (server started with examples/lab.yaml applied; Benchmarks/dci.sh does it all):
  .venv/bin/python Tests/compat/dci_bench.py --url http://127.0.0.1:8080 [--jobs 2000] [--seconds 20]
      [--connections 8,32] [--server-pid PID]
Needs wrk on PATH.
"""
import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import tempfile
import time
from urllib.parse import urlparse

import requests
from dciclient.v1.api import context as dci_context
from dciclient.v1.api import file as dci_file
from dciclient.v1.api import job as dci_job
from dciclient.v1.api import jobstate as dci_jobstate
from dciclient.v1.api import topic as dci_topic
from dciclient.v1.api.context import DciSignatureAuth

PARTNER_ID = "6cee7286-5d99-4a96-9949-200977f4be07"
PARTNER_SECRET = "partner-ci-secret-0123456789abcdef"


def server_cpu(pid):
    """The server's user + system CPU time so far, in seconds (None without a pid)."""
    if pid is None:
        return None
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the command's closing parenthesis, utime and stime are the 12th and 13th fields.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_ms(before, after, count):
    return "%.2f ms" % (1000 * (after - before) / count) if before is not None and count else "n/a"


def junit(index):
    cases = "".join(
        '<testcase classname="bench.c%d" name="t%d" time="0.%d">%s</testcase>'
        % (i % 5, i, i % 10, "<failure message='x'/>" if (i + index) % 17 == 0 else "")
        for i in range(20)
    )
    return '<?xml version="1.0"?><testsuites><testsuite name="bench">%s</testsuite></testsuites>' % cases


def seed(dci_url, count, threads):
    ctx = dci_context.build_signature_context(dci_url, "remoteci/" + PARTNER_ID, PARTNER_SECRET, max_retries=2)
    topic = dci_topic.list(ctx, where="name:RHEL-8.2", limit=1, offset=0).json()["topics"][0]["id"]
    components = [c["id"] for c in dci_topic.list_components(ctx, topic, limit=50, offset=0).json()["components"]]

    def one(index):
        local = dci_context.build_signature_context(dci_url, "remoteci/" + PARTNER_ID, PARTNER_SECRET, max_retries=2)
        r = dci_job.create(local, topic, components=components, name="bench-%d" % (index % 10))
        assert r.status_code == 201, r.text
        job = r.json()["job"]["id"]
        assert dci_jobstate.create(local, status="running", comment="", job_id=job).status_code == 201
        r = dci_file.create(local, "junit.xml", content=junit(index), mime="application/junit", job_id=job)
        assert r.status_code == 201, r.text
        final = "success" if index % 4 else "failure"
        assert dci_jobstate.create(local, status=final, comment="", job_id=job).status_code == 201
        return job

    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        jobs = list(pool.map(one, range(count)))
    elapsed = time.time() - start
    return jobs, elapsed


def signed(method, url, body=b""):
    """The headers dciclient would send for this request (signed now, valid for 15 minutes)."""
    session = requests.Session()
    session.headers["Content-Type"] = "application/json"
    prepared = session.prepare_request(requests.Request(method, url, data=body or None))
    prepared = DciSignatureAuth("remoteci/" + PARTNER_ID, PARTNER_SECRET)(prepared)
    return {k: prepared.headers[k] for k in ("Authorization", "X-DCI-Date", "Content-Type")}


def lua_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def wrk(url, requests_list, seconds, connections):
    """Runs wrk over pre-signed requests (round robin) and returns (req/s, p50 ms, p99 ms, non-2xx)."""
    entries = []
    for method, path, headers, body in requests_list:
        header_table = ", ".join("[%s] = %s" % (lua_string(k), lua_string(v)) for k, v in headers.items())
        entries.append("{%s, %s, {%s}, %s}" % (lua_string(method), lua_string(path), header_table,
                                               lua_string(body.decode()) if body else "nil"))
    script = """
local reqs = {%s}
local counter = 0
local errors = 0
request = function()
  counter = counter + 1
  local r = reqs[(counter %% #reqs) + 1]
  return wrk.format(r[1], r[2], r[3], r[4])
end
response = function(status, headers, body)
  if status >= 300 then errors = errors + 1 end
end
""" % ",\n".join(entries)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
        path = f.name
    try:
        out = subprocess.run(
            ["wrk", "-t2", "-c%d" % connections, "-d%ds" % seconds, "--latency", "-s", path, url],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(path)

    def millis(label):
        m = re.search(r"^\s*%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return rps, millis("50"), millis("99"), int(bad.group(1)) if bad else 0, total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="server base URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", default="8,32", help="wrk connections, comma-separated: one run each")
    parser.add_argument("--server-pid", type=int, help="the server's pid, for its CPU time per request")
    parser.add_argument("--skip-seed", action="store_true")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    dci_url = base + "/dci"
    api = dci_url + "/api/v1"

    if args.skip_seed:
        ctx = dci_context.build_signature_context(dci_url, "remoteci/" + PARTNER_ID, PARTNER_SECRET, max_retries=2)
        jobs = [j["id"] for j in dci_job.list(ctx, limit=200, offset=0).json()["jobs"]]
    else:
        before = server_cpu(args.server_pid)
        jobs, elapsed = seed(dci_url, args.jobs, 8)
        print("seeded %d jobs (job, 2 jobstates, JUnit file; 8 threads) in %.1f s: %.1f jobs/s, server CPU %s per job"
              % (len(jobs), elapsed, len(jobs) / elapsed,
                 cpu_ms(before, server_cpu(args.server_pid), len(jobs))))

    path = urlparse(api).path
    list_path = path + "/jobs?limit=50&offset=0&sort=-created_at"
    cases = [
        ("GET /jobs?limit=50&offset=0&sort=-created_at", [("GET", list_path, signed("GET", base + list_path), b"")]),
        ("GET /jobs/{id}", [("GET", path + "/jobs/" + j, signed("GET", api + "/jobs/" + j), b"") for j in jobs[:500]]),
        ("POST /jobstates", [
            ("POST", path + "/jobstates",
             signed("POST", api + "/jobstates", body), body)
            for j in jobs[:500]
            for body in [json.dumps({"status": "running", "comment": "", "job_id": j}).encode()]
        ]),
    ]
    print("| request | connections | req/s | p50 | p99 | non-2xx | server CPU per request |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, reqs in cases:
        for connections in [int(c) for c in args.connections.split(",")]:
            before = server_cpu(args.server_pid)
            rps, p50, p99, bad, total = wrk(base, reqs, args.seconds, connections)
            print("| `%s` | %d | %.0f | %.2f ms | %.2f ms | %d | %s |"
                  % (label, connections, rps, p50, p99, bad, cpu_ms(before, server_cpu(args.server_pid), total)))


if __name__ == "__main__":
    main()
