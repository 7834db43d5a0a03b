#!/usr/bin/env python3
"""Prints DCI signature test vectors made by the REAL dciclient/dciauth (clock frozen at 2024-05-01 12:00:00 UTC).

Run with the repo venv: .venv/bin/python Tests/compat/dci_vectors.py
Tests/ProctorCoreTests/DCISignatureTests.swift hard-codes its output; regenerate when dciauth changes.
"""
import datetime
import json

import requests
import dciauth.v2.headers as v2h
import dciauth.v2.signature as v2s
from dciclient.v1.api.context import DciSignatureAuth

FIXED = datetime.datetime(2024, 5, 1, 12, 0, 0)
v2h.get_now = lambda: FIXED
v2s.get_now = lambda: FIXED

CLIENT = "remoteci/8e4b1a2c-0000-4000-8000-000000000001"
SECRET = "Xy7SecretKeyForTesting0123456789abcdefABCDEF"

CASES = [
    ("GET", "http://127.0.0.1:8080/api/v1/topics",
     {"params": {"where": "name:OCP-4.12", "limit": 50, "offset": 0, "sort": "-created_at"}}),
    ("POST", "http://127.0.0.1:8080/api/v1/jobs",
     {"json": {"topic_id": "t-1", "components": ["c-1"], "name": "my job"}}),
    ("GET", "http://localhost:5000/dci/api/v1/topics?where=name%3ARHEL+9.4%2Cstate%3Aactive&b=&a=1&a=2&u=%C3%A9t%C3%A9+x/y", {}),
    ("PUT", "http://localhost:5000/dci/api/v1/jobs/0d5b-1", {"json": {"status": "success"}, "headers": {"If-match": "abc"}}),
    ("DELETE", "http://h.example:443/dci/api/v1/jobs/x%20y", {}),
    ("POST", "http://127.0.0.1:18080/dci/api/v1/files",
     {"data": b"<testsuite tests=\"1\">\xff\x00</testsuite>", "headers": {"DCI-NAME": "junit.xml", "Content-Type": "application/junit"}}),
]


def main():
    out = []
    auth = DciSignatureAuth(CLIENT, SECRET)
    for method, url, kwargs in CASES:
        s = requests.Session()
        s.headers["Content-Type"] = "application/json"
        p = auth(s.prepare_request(requests.Request(method, url, **kwargs)))
        body = p.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        parsed = requests.utils.urlparse(p.url)
        out.append({
            "method": p.method, "path": parsed.path, "query": parsed.query or None, "host": parsed.netloc,
            "body_hex": (body or b"").hex(), "date": p.headers["X-DCI-Date"], "authorization": p.headers["Authorization"],
        })
    # AWS4 flavour (Postman): same algorithm under AWS names, date in X-Amz-Date.
    req = {"method": "GET", "endpoint": "/dci/api/v1/identity", "params": {}, "host": "127.0.0.1:8080", "data": b"",
           "algorithm": "AWS4-HMAC-SHA256", "region": "us-east-1", "service": "api", "request_type": "aws4_request",
           "date_header": "X-Amz-Date", "signed_headers": "host;x-amz-date",
           "timestamp": "20240501T120000Z", "datestamp": "20240501",
           "canonical_headers": {"host": "127.0.0.1:8080", "x-amz-date": "20240501T120000Z"}}
    h = v2h.generate_headers(dict(req), {"access_key": CLIENT, "secret_key": SECRET})
    out.append({"method": "GET", "path": "/dci/api/v1/identity", "query": None, "host": "127.0.0.1:8080", "body_hex": "",
                "date": h["X-Amz-Date"], "authorization": h["Authorization"], "amz": True})
    # Every vector must verify with the real library's server-side check too.
    for v in out:
        headers = {"Host": v["host"], "Authorization": v["authorization"],
                   ("X-Amz-Date" if v.get("amz") else "X-DCI-Date"): v["date"]}
        from urllib.parse import parse_qsl
        ok, err = v2s.is_valid({"method": v["method"], "endpoint": v["path"], "data": bytes.fromhex(v["body_hex"]),
                                "params": dict(parse_qsl(v["query"] or ""))}, {"secret_key": SECRET},
                               v2h.parse_headers(headers))
        assert ok, (v, err)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
