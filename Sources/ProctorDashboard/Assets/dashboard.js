// Proctor dashboard: a little vanilla JavaScript on top of server-rendered pages.
// - the runs table re-fetches its rows (server-rendered, escaped HTML) when the event stream says a run changed;
// - a run's page follows its console log (text only, never HTML) and refreshes its status, timeline and tests.
// Everything works without it; it only makes pages live.
(function () {
  "use strict";

  // onOpen runs each time the stream (re)connects: whatever changed before then was never sent on it,
  // so a page that renders state and then subscribes refreshes once there, or it could miss a change.
  function stream(url, events, onState, onOpen) {
    if (!window.EventSource) return null;
    const source = new EventSource(url);
    for (const name of Object.keys(events)) source.addEventListener(name, events[name]);
    source.addEventListener("open", function () {
      if (onState) onState("live");
      if (onOpen) onOpen();
    });
    if (onState) {
      source.addEventListener("error", function () { onState(source.readyState === 2 ? "closed" : "reconnecting"); });
    }
    return source;
  }

  // Fetches server-rendered HTML from this origin; a lost session sends the browser to the login page.
  async function fetchHTML(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (response.redirected && new URL(response.url).pathname === "/login") {
      window.location.reload();
      return null;
    }
    return response.ok ? response.text() : null;
  }

  function debounced(fn, ms) {
    let timer = null, running = false, again = false;
    async function run() {
      if (running) { again = true; return; }
      running = true;
      try { await fn(); } catch (e) { /* next event retries */ }
      running = false;
      if (again) { again = false; schedule(); }
    }
    function schedule() { clearTimeout(timer); timer = setTimeout(run, ms); }
    return schedule;
  }

  function runsTable() {
    const table = document.getElementById("runs");
    const body = document.getElementById("run-rows");
    if (!table || !body || !table.dataset.rows) return;
    const note = document.getElementById("live-note");
    const refresh = debounced(async function () {
      const html = await fetchHTML(table.dataset.rows);
      if (html !== null) body.innerHTML = html;
    }, 200);
    stream("/ui/events/stream", { run: refresh }, function (state) {
      if (note) note.textContent = state === "live" ? "Updates live." : "Live updates paused, reconnecting…";
    }, refresh);
  }

  const errorPattern = /error|fatal|traceback|^failed|^E\s/i;
  const warningPattern = /warning|^warn/i;

  function runPage() {
    const log = document.getElementById("log");
    if (!document.getElementById("run-live") || !log) return;
    const follow = document.getElementById("follow");
    const jumpError = document.getElementById("jump-error");
    const jumpEnd = document.getElementById("jump-end");
    const empty = document.getElementById("log-empty");
    const state = document.getElementById("log-state");
    const tail = document.createTextNode("");
    let pending = "";
    let firstError = null;

    function append(text) {
      const lines = (pending + text).split("\n");
      pending = lines.pop();
      const fragment = document.createDocumentFragment();
      for (const line of lines) {
        const span = document.createElement("span");
        span.textContent = line + "\n";
        if (errorPattern.test(line)) {
          span.className = "err";
          if (!firstError) { firstError = span; span.id = "first-error"; jumpError.hidden = false; }
        } else if (warningPattern.test(line)) {
          span.className = "warn";
        }
        fragment.appendChild(span);
      }
      log.insertBefore(fragment, tail);
      tail.textContent = pending;
      empty.hidden = log.textContent.length > 0;
      if (follow.checked) log.scrollTop = log.scrollHeight;
    }

    const initial = log.textContent;
    log.textContent = "";
    log.appendChild(tail);
    append(initial);

    // Scrolling up stops following; scrolling back to the bottom resumes it.
    log.addEventListener("scroll", function () {
      follow.checked = log.scrollTop + log.clientHeight >= log.scrollHeight - 24;
    });
    follow.addEventListener("change", function () { if (follow.checked) log.scrollTop = log.scrollHeight; });
    jumpEnd.addEventListener("click", function () { follow.checked = true; log.scrollTop = log.scrollHeight; });
    jumpError.addEventListener("click", function () {
      if (!firstError) return;
      follow.checked = false;
      log.scrollTop = Math.max(0, firstError.offsetTop - log.offsetTop - 40);
      firstError.classList.add("target");
      log.focus();
    });

    const refreshLive = debounced(async function () {
      const live = document.getElementById("run-live");
      const failedOnly = new URLSearchParams(window.location.search).get("tests") === "failed";
      const html = await fetchHTML("/runs/" + encodeURIComponent(live.dataset.run) + "?fragment=live" + (failedOnly ? "&tests=failed" : ""));
      if (html === null) return;
      const holder = document.createElement("div");
      holder.innerHTML = html;
      const fresh = holder.querySelector("#run-live");
      if (fresh) live.replaceWith(fresh);
    }, 150);

    const runID = document.getElementById("run-live").dataset.run;
    let events = null;
    if (!document.getElementById("run-live").dataset.terminal) {
      events = stream("/ui/events/stream", {
        run: function (message) {
          try { if (JSON.parse(message.data).run_id === runID) refreshLive(); } catch (e) { /* ignore */ }
        },
      }, null, refreshLive);
    }
    if (log.dataset.follow) {
      const source = stream(log.dataset.stream + "?offset=" + encodeURIComponent(log.dataset.offset || "0"), {
        log: function (message) { append(JSON.parse(message.data).text); },
        end: function (message) {
          source.close();
          if (pending) { append("\n"); }
          const status = JSON.parse(message.data).status;
          state.textContent = "The run ended: " + status + ".";
          if (events) events.close();
          refreshLive();
        },
      }, function (s) {
        if (s === "live") state.textContent = "Following live.";
        else if (s === "reconnecting") state.textContent = "Reconnecting…";
      });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    runsTable();
    runPage();
  });
})();
