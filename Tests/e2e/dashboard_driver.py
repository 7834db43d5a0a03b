#!/usr/bin/env python3
"""Drives headless Chromium through the DevTools protocol against a live Proctor (Tests/e2e/dashboard.sh).

  dashboard_driver.py --url URL --chromium PATH --out DIR --user NAME --password PASS \
      --hostile-run ID --finished-run ID --failing-run ID --regressed-run ID

Checks: login (the session cookie is HttpOnly); the runs table lists the runs; a run's page shows its log and
test results (failed-only filter); a launch from the job page appears in an open runs table without a reload;
the log follows a running run and cancel ends it; hostile names, log lines and test messages show as text.
Writes a screenshot of every page at 1280 and 390 px into --out. Exits non-zero on the first failure.
"""
import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket  # the websocket-client package

HOSTILE_TEXT = "<script>window.__xss=1</script>"


class Failure(Exception):
    pass


class Browser:
    """One browser over its DevTools websocket; pages are flattened sessions of it."""

    def __init__(self, chromium):
        self.profile = tempfile.mkdtemp(prefix="proctor-chromium-")
        flags = [
            chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-timer-throttling",
            "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows", "--hide-scrollbars",
            "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank",
        ]
        self.process = subprocess.Popen(flags, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and len(open(port_file).read().split("\n")) >= 2:
                break
            if self.process.poll() is not None:
                raise Failure("chromium exited at start")
            time.sleep(0.1)
        port, path = open(port_file).read().split("\n")[:2]
        self.ws = websocket.create_connection(f"ws://127.0.0.1:{port}{path}", timeout=60, suppress_origin=True)
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self.ws.send(json.dumps(message))
        deadline = time.time() + timeout
        while time.time() < deadline:
            reply = json.loads(self.ws.recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise Failure(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)
        raise Failure(f"{method}: no answer")

    def page(self):
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        return Page(self, session, target)

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except Exception:
            self.process.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    def __init__(self, browser, session, target):
        self.browser, self.session, self.target = browser, session, target
        self.send("Page.enable")
        self.send("Runtime.enable")
        self.width = 1280

    def send(self, method, params=None, timeout=30):
        return self.browser.send(method, params, self.session, timeout)

    def activate(self):
        self.browser.send("Target.activateTarget", {"targetId": self.target})

    def eval(self, expression):
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise Failure(f"script error in {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait(self, expression, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                value = self.eval(f"!!({expression})")
            except Failure:
                value = None
            if value:
                return value
            time.sleep(0.1)
        raise Failure(f"timed out waiting for {what} ({expression}) on {self.eval('location.href')}")

    def wait_loaded(self):
        self.wait("document.readyState === 'complete' && !!document.body", "the page to load")

    def goto(self, url):
        self.send("Page.navigate", {"url": url})
        time.sleep(0.1)
        self.wait_loaded()

    def viewport(self, width, height=900):
        self.width = width
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})

    def screenshot(self, path):
        height = min(6000, int(self.eval("Math.ceil(document.documentElement.scrollHeight)") or 900))
        self.viewport(self.width, max(600, height))
        data = self.send("Page.captureScreenshot", {"format": "png"}, timeout=60)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        self.viewport(self.width)


def check(condition, message):
    if not condition:
        raise Failure(message)
    print(f"dashboard: ok: {message}", flush=True)


def api(base, token, method, path, body=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def main():
    parser = argparse.ArgumentParser()
    for name in ["url", "chromium", "out", "user", "password", "token", "hostile-run", "finished-run", "failing-run", "regressed-run", "waiting-run"]:
        parser.add_argument("--" + name, required=True)
    args = parser.parse_args()
    base = args.url.rstrip("/")
    os.makedirs(args.out, exist_ok=True)
    browser = Browser(args.chromium)
    shots = []

    def shoot(page, name):
        """The current page at both widths, checking that the phone width needs no sideways scrolling."""
        for width in (1280, 390):
            page.viewport(width)
            time.sleep(0.15)
            overflow = page.eval("document.documentElement.scrollWidth")
            if width == 390 and overflow > 392:
                raise Failure(f"{name} is {overflow} px wide at a 390 px phone width")
            path = os.path.join(args.out, f"{name}-{width}.png")
            page.screenshot(path)
            shots.append(path)
        page.viewport(1280)

    def common(page, name):
        title = page.eval("document.title")
        check(bool(title) and "Proctor" in title, f"{name} has a title ({title})")
        unlabelled = page.eval("""[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
            .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')).map(e => e.name)""")
        check(unlabelled == [], f"{name}: every field has a label {unlabelled}")
        injected = page.eval("document.querySelectorAll('main script, main img, main iframe').length")
        check(injected == 0 and page.eval("window.__xss === undefined"), f"{name}: nothing injected runs")

    try:
        page = browser.page()
        # Login.
        page.goto(base + "/")
        check(page.eval("location.pathname") == "/login", "an anonymous visit lands on the login page")
        common(page, "login")
        shoot(page, "login")
        page.eval(f"document.getElementById('name').value = {json.dumps(args.user)}; "
                  f"document.getElementById('password').value = 'wrong-password'; document.querySelector('form[action=\"/login\"]').submit(); 1")
        page.wait("location.pathname === '/login' && document.querySelector('.alert')", "the wrong-password message")
        page.eval(f"document.getElementById('name').value = {json.dumps(args.user)}; "
                  f"document.getElementById('password').value = {json.dumps(args.password)}; document.querySelector('form[action=\"/login\"]').submit(); 1")
        page.wait("location.pathname === '/' && document.getElementById('runs')", "the runs page after login")
        page.wait_loaded()
        check("proctor_session" not in page.eval("document.cookie"), "the session cookie is not readable by scripts")

        # The runs table lists the runs.
        rows = page.eval("document.querySelectorAll('#run-rows tr[data-run]').length")
        check(rows >= 3, f"the runs table lists the runs ({rows} rows)")
        check(page.eval(f"!!document.querySelector('tr[data-run=\"{args.finished_run}\"] .badge.ok')"), "a passed run shows in green")
        check(page.eval(f"document.body.innerText.includes({json.dumps(HOSTILE_TEXT)})"), "a hostile run name shows as text")
        common(page, "runs")
        shoot(page, "runs")
        page.goto(base + "/?status=failure")
        check(page.eval(f"!!document.querySelector('tr[data-run=\"{args.failing_run}\"]') && "
                        f"!document.querySelector('tr[data-run=\"{args.finished_run}\"]')"), "the status filter filters")

        # A finished run's page: log and test results.
        page.goto(base + f"/runs/{args.finished_run}")
        check(page.eval("document.getElementById('log').innerText.includes('test_lab_basics')"), "the run page shows the console log")
        tests = page.eval("document.querySelectorAll('table.tests tbody tr').length")
        check(tests == 4, f"the run page shows the 4 test results ({tests})")
        common(page, "run")
        shoot(page, "run")
        page.goto(base + f"/runs/{args.failing_run}?tests=failed")
        failed = page.eval("[...document.querySelectorAll('table.tests tbody tr')].map(r => r.innerText)")
        check(len(failed) == 1 and "test_optional_failure" in failed[0], f"failed-only shows the one failure ({len(failed)})")
        check(page.eval("!document.getElementById('jump-error').hidden"), "a failing log offers a jump to its first error")
        page.eval("document.getElementById('jump-error').click(); 1")
        check(page.eval("!document.getElementById('follow').checked && document.getElementById('log').scrollTop >= 0"),
              "jumping to the first error stops following")
        shoot(page, "run-failing")
        page.goto(base + f"/runs/{args.regressed_run}")
        marks = page.eval("[...document.querySelectorAll('table.tests td[data-label=Change] .badge')].map(b => b.textContent)")
        check(marks == ["REGRESSED"], f"a test that passed in the previous run shows REGRESSED ({marks})")
        check(page.eval("!!document.querySelector('.facts a[href^=\"/runs/\"]')"), "the run links its previous run")

        # The raw log downloads as a plain-text attachment.
        href = page.eval("document.getElementById('log-download').getAttribute('href')")
        download = page.eval(f"""fetch({json.dumps(href)}).then(async r => [r.status, r.headers.get('content-disposition') || '',
            r.headers.get('content-type') || '', await r.text()])""")
        check(download[0] == 200 and download[1].startswith("attachment;") and download[2].startswith("text/plain")
              and len(download[3]) > 0, f"the raw log downloads as an attachment ({download[:3]})")

        # A test's history, from the REGRESSED test's link: newest first, and since when it fails.
        history = page.eval("document.querySelector('table.tests tr.test-failed a.history').getAttribute('href')")
        page.goto(base + history)
        check(page.eval("document.getElementById('failing-since').innerText.startsWith('Failing since run')"),
              "a test's history says since when it fails")
        common(page, "test history")
        shoot(page, "test-history")

        # Compared with the passing run, the regressed run has a test that went from passed to failed.
        page.goto(base + f"/runs/{args.regressed_run}/compare?with={args.finished_run}")
        changed = page.eval("[...document.querySelectorAll('tbody tr')].map(r => r.innerText.replace(/\\s+/g, ' '))")
        check(any("passed failed" in row for row in changed), f"the comparison shows the test that broke ({changed})")
        common(page, "compare")
        shoot(page, "compare")

        # A run on agents, with none online, says why it waits; so do the runs table and the lab's queue.
        page.goto(base + f"/runs/{args.waiting_run}")
        check("no agent with labels linux is online" in page.eval("document.getElementById('wait-why').innerText"),
              "a waiting run says why it waits")
        common(page, "waiting run")
        shoot(page, "run-waiting")
        page.goto(base + "/?user=alice&status=new")
        check(page.eval(f"document.querySelector('tr[data-run=\"{args.waiting_run}\"]').innerText.includes('no agent with labels linux online')"),
              "the runs table, searched by launching user, says why the run waits")
        page.goto(base + "/?test=test_optional_failure")
        check(page.eval(f"!!document.querySelector('tr[data-run=\"{args.finished_run}\"]') && "
                        f"!document.querySelector('tr[data-run=\"{args.waiting_run}\"]')"), "the test-name search filters")
        shoot(page, "runs-search")

        # Hostile names, log lines and test messages show as text.
        page.goto(base + f"/runs/{args.hostile_run}")
        text = page.eval("document.body.innerText")
        check(text.count(HOSTILE_TEXT) >= 3, "the hostile name, log line and test message show as text on the run page")
        check(page.eval("document.getElementById('log').innerText").count(HOSTILE_TEXT) == 1, "the hostile log line is text in the log")
        common(page, "hostile run")
        shoot(page, "run-hostile")

        # Jobs and lab pages.
        page.goto(base + "/jobs")
        common(page, "jobs")
        shoot(page, "jobs")
        job = page.eval("[...document.querySelectorAll('table.jobs a')].find(a => a.textContent === 'pytest-demo').getAttribute('href')")
        page.goto(base + job)
        common(page, "job")
        check(page.eval("!!document.querySelector('svg.trend')"), "the job page draws its pass-rate trend")
        shoot(page, "job")
        for section in ["testbeds", "queue", "agents", "engines", "harnesses", "topics", "components"]:
            page.goto(base + f"/lab/{section}")
            common(page, f"lab/{section}")
            shoot(page, f"lab-{section}")

        page.goto(base + "/lab/queue")
        check(page.eval("document.body.innerText.includes('waits for an agent')"), "the lab's queue lists the waiting run")

        # The API docs fit a phone's width.
        page.goto(base + "/docs")
        page.viewport(390)
        time.sleep(0.15)
        widths = page.eval("[document.documentElement.scrollWidth, innerWidth]")
        check(widths[0] <= widths[1], f"/docs has no horizontal overflow at 390 px ({widths})")
        page.viewport(1280)
        shoot(page, "docs")

        # A launch from the job page appears in an open runs table without a reload.
        table = browser.page()
        table.goto(base + "/")
        table.eval("window.__notReloaded = true")
        table.wait("document.getElementById('live-note').textContent.includes('live')", "the runs table to go live")
        time.sleep(0.5)
        page.goto(base + job)
        page.eval("""(() => { const f = document.getElementById('launch-form');
            const p = [...f.profile.options].find(o => o.textContent === 'DEFAULT'); f.profile.value = p.value;
            f.options.value = JSON.stringify({PROCTOR_DEMO_STEP_SECONDS: '4', '-s': true});
            f.elements.name.value = 'launched from the dashboard';
            document.getElementById('launch').click(); return 1; })()""")
        page.wait("location.pathname.startsWith('/runs/')", "the new run's page")
        page.wait_loaded()
        run = page.eval("location.pathname.split('/')[2]")
        table.wait(f"!!document.querySelector('tr[data-run=\"{run}\"]')", "the launched run in the open runs table", timeout=20)
        check(table.eval("window.__notReloaded === true"), "the launched run appeared in the runs table without a reload")
        table.wait(f"document.querySelector('tr[data-run=\"{run}\"] .badge').textContent === 'running'",
                   "the runs table to show the run running", timeout=30)
        check(True, "the runs table follows the run's status live")

        # The log follows the running run; cancel ends it.
        page.wait("document.getElementById('log').innerText.includes('step 0')", "the live log to show 'step 0'", timeout=40)
        shown = page.eval("document.getElementById('run-status').textContent")
        check(shown in ("running", "pre-run", "post-run"), f"the log follows while the run runs (status shown: {shown})")
        page.wait("!!document.getElementById('cancel')", "the cancel button")
        page.eval("document.getElementById('cancel').click(); 1")
        page.wait("document.getElementById('run-status') && document.getElementById('run-status').textContent === 'killed'",
                  "the canceled run to end killed", timeout=40)
        check("canceled" in page.eval("document.querySelector('.facts').innerText"), "cancel works: the run ended killed (canceled)")
        table.wait(f"document.querySelector('tr[data-run=\"{run}\"] .badge').textContent === 'killed'",
                   "the runs table to show the run killed", timeout=20)
        shoot(page, "run-canceled")

        # Logout.
        page.eval("document.querySelector('form.logout').submit(); 1")
        page.wait("location.pathname === '/login'", "the login page after logout")
        page.goto(base + "/")
        check(page.eval("location.pathname") == "/login", "after logout the pages need a login again")
        print(f"dashboard: {len(shots)} screenshots in {args.out}")
    finally:
        browser.close()


if __name__ == "__main__":
    try:
        main()
    except Failure as failure:
        print(f"dashboard: FAIL: {failure}", file=sys.stderr)
        sys.exit(1)
