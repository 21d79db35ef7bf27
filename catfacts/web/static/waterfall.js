// The waterfall: run a strategy (or all three, one after another), read its streamed answer with
// its timeline (NDJSON, ?trace=1), and draw one row per fact asked for and one bar per upstream
// request in it, on a time axis shared by every lane. Plain DOM and SVG: nothing to build.
"use strict";

(() => {
  const lanesEl = document.getElementById("lanes");
  const form = document.getElementById("controls");
  const nInput = document.getElementById("n");
  const strategySelect = document.getElementById("strategy");
  const runButton = document.getElementById("run");
  const stopButton = document.getElementById("stop");
  const STRATEGIES = JSON.parse(lanesEl.dataset.strategies); // key -> [label, path]
  const ORDER = JSON.parse(lanesEl.dataset.order); // the table's order, which JSON objects lose
  const MARGIN = { left: 38, right: 64, top: 20, bottom: 4 };

  let lanes = [];
  let controller = null;
  let frame = 0;

  const escape = (text) =>
    String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);

  function formatMs(ms) {
    if (ms == null) return "–";
    if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  }

  class Lane {
    constructor(key, n) {
      this.key = key;
      this.n = n;
      this.requests = new Map(); // "fact:attempt" -> request
      this.waits = [];
      this.facts = 0;
      this.summary = null;
      this.failure = null;
      this.startedAt = null;
      this.requestId = `page-${key}-${Math.random().toString(16).slice(2, 10)}`;
      this.el = document.createElement("section");
      this.el.className = "lane";
      this.el.dataset.strategy = key;
      this.el.dataset.requestId = this.requestId;
      this.el.dataset.state = "waiting";
      this.el.innerHTML = `<h2>${escape(STRATEGIES[key][0])} <span class="stats">waiting…</span></h2>
        <p class="failure" hidden></p><svg role="img" aria-label="waterfall of ${escape(STRATEGIES[key][0])}"></svg>`;
      this.stats = this.el.querySelector(".stats");
      this.failureEl = this.el.querySelector(".failure");
      this.svg = this.el.querySelector("svg");
    }

    get live() { return this.el.dataset.state === "running"; }

    elapsed() {
      if (this.summary) return this.summary.total_ms;
      return this.startedAt == null ? 0 : performance.now() - this.startedAt;
    }

    extent() {
      let most = this.elapsed();
      if (this.summary && this.summary.ideal_ms != null) most = Math.max(most, this.summary.ideal_ms);
      for (const r of this.requests.values()) most = Math.max(most, r.answered_ms || 0);
      return most;
    }

    addRequest(request) {
      this.requests.set(`${request.fact}:${request.attempt}`, request);
      const before = this.requests.get(`${request.fact}:${request.attempt - 1}`);
      if (before) before.retried = true;
    }

    take(line) {
      if ("fact" in line) this.facts += 1;
      else if (line.request) this.addRequest(line.request);
      else if (line.wait) this.waits.push(line.wait);
      else if (line.summary) this.finish(line);
    }

    finish(line) {
      this.summary = line.summary;
      if (line.trace) {
        this.requests = new Map();
        line.trace.requests.forEach((r) => this.addRequest(r));
        this.waits = line.trace.waits;
      }
      if (line.error) this.fail(line.error);
      this.el.dataset.state = line.error ? "failed" : "done";
    }

    fail(message) {
      this.failure = message;
      this.failureEl.textContent = message;
      this.failureEl.hidden = false;
      this.el.dataset.state = "failed";
    }

    header() {
      const s = this.summary;
      const refused = [...this.requests.values()].filter((r) => r.outcome === "refused").length;
      const facts = s ? s.returned : this.facts;
      const whole = facts === this.n ? "good" : "bad";
      const parts = [`<b class="${this.live ? "" : whole}">${facts} / ${this.n}</b> facts`];
      parts.push(`<b>${formatMs(this.elapsed())}</b>${this.live ? "…" : ""}`);
      if (s && s.ideal_ms != null) {
        const whole = s.returned === this.n && s.ideal_ms > 0;
        const over = whole ? ` (${s.total_ms >= s.ideal_ms ? "+" : ""}${Math.round((s.total_ms / s.ideal_ms - 1) * 100)}%)` : "";
        parts.push(`ideal ${formatMs(s.ideal_ms)}${over}`);
      }
      parts.push(`<span class="${refused ? "bad" : ""}">${refused} × 429</span>`);
      parts.push(`${this.requests.size} requests`);
      if (s) parts.push(`worker ${s.worker}`);
      this.stats.innerHTML = parts.join(" · ");
    }

    render(scaleMs) {
      this.header();
      const width = Math.max(this.svg.clientWidth || 900, 300);
      const plot = width - MARGIN.left - MARGIN.right;
      const rows = Math.min(Math.max(this.n * 9, 90), 420);
      const rowH = rows / this.n;
      const barH = Math.max(rowH * 0.72, 0.8);
      const height = MARGIN.top + rows + MARGIN.bottom;
      const x = (ms) => MARGIN.left + (Math.max(ms, 0) / scaleMs) * plot;
      const y = (fact) => MARGIN.top + (fact - 1) * rowH + (rowH - barH) / 2;
      const out = [];

      out.push(axis(scaleMs, x, height));
      for (const w of merged(this.waits, scaleMs / plot)) {
        const left = x(w.start_ms);
        const span = Math.max(x(w.end_ms) - left, 1);
        out.push(`<g class="wait"><rect class="waitband" x="${left}" y="${MARGIN.top}" width="${span}" height="${rows}"><title>waited ${formatMs(w.end_ms - w.start_ms)} for ${escape(w.reason)}</title></rect>`);
        const label = `waiting for ${w.reason}`;
        if (span > label.length * 5.6 + 12 && rows > 40) {
          out.push(`<text class="waitlabel" x="${left + span / 2}" y="${MARGIN.top + rows - 6}" text-anchor="middle">${escape(label)}</text>`);
        }
        out.push("</g>");
      }
      const byFact = new Map();
      for (const r of this.requests.values()) {
        if (!byFact.has(r.fact)) byFact.set(r.fact, []);
        byFact.get(r.fact).push(r);
      }
      const now = this.elapsed();
      const labelEvery = Math.ceil(this.n / Math.max(Math.floor(rows / 14), 1));
      for (let fact = 1; fact <= this.n; fact++) {
        const top = y(fact);
        out.push(`<g class="row" data-fact="${fact}">`);
        if (fact === 1 || fact % labelEvery === 0) {
          out.push(`<text class="rowlabel" x="${MARGIN.left - 6}" y="${top + barH / 2 + 3.5}" text-anchor="end">${fact}</text>`);
        }
        const attempts = byFact.get(fact) || [];
        if (!attempts.length && this.live) {
          out.push(`<rect class="pending" x="${x(0)}" y="${top + barH * 0.35}" width="${x(now) - x(0)}" height="${barH * 0.3}"/>`);
        }
        for (const r of attempts) out.push(bar(r, x, top, barH));
        out.push("</g>");
      }
      if (this.summary && this.summary.ideal_ms != null) out.push(marker("ideal", this.summary.ideal_ms, "ideal", x, height));
      out.push(marker(this.live ? "now" : "total", now, this.live ? "" : formatMs(now), x, height));
      this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      this.svg.setAttribute("height", height);
      this.svg.innerHTML = out.join("");
    }
  }

  // Waits of one reason that touch (closer than a pixel) are drawn as one band.
  function merged(waits, msPerPixel) {
    const sorted = [...waits].sort((a, b) => a.start_ms - b.start_ms);
    const out = [];
    for (const w of sorted) {
      const last = out[out.length - 1];
      if (last && last.reason === w.reason && w.start_ms - last.end_ms <= msPerPixel) {
        last.end_ms = Math.max(last.end_ms, w.end_ms);
      } else {
        out.push({ ...w });
      }
    }
    return out;
  }

  function bar(r, x, top, barH) {
    const sent = r.sent_ms ?? r.queued_ms;
    const queue = `<rect class="queue" x="${x(r.queued_ms)}" y="${top + barH * 0.35}" width="${Math.max(x(sent) - x(r.queued_ms), 0)}" height="${barH * 0.3}"/>`;
    const outcome = r.outcome || "cancelled";
    const classes = `bar ${outcome}${r.retried ? " retried" : ""}`;
    const end = r.answered_ms ?? sent;
    const title = `fact ${r.fact}, attempt ${r.attempt}: queued ${formatMs(r.queued_ms)}, sent ${formatMs(r.sent_ms)}, answered ${formatMs(r.answered_ms)} → ${r.status ?? outcome}${r.retried ? ", retried" : ""}`;
    return `${queue}<rect class="${classes}" data-status="${r.status ?? ""}" x="${x(sent)}" y="${top}" width="${Math.max(x(end) - x(sent), 3)}" height="${barH}" rx="${Math.min(barH / 3, 2)}"><title>${escape(title)}</title></rect>`;
  }

  function marker(kind, ms, label, x, height) {
    const at = x(ms);
    return `<g class="marker ${kind}"><line x1="${at}" x2="${at}" y1="${MARGIN.top - 4}" y2="${height - MARGIN.bottom}"/>${label ? `<text x="${at + 4}" y="${MARGIN.top + 8}">${escape(label)}</text>` : ""}</g>`;
  }

  function axis(scaleMs, x, height) {
    const rough = scaleMs / 8;
    const power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
    const ticks = [];
    for (let ms = 0; ms <= scaleMs + 1e-9; ms += step) {
      ticks.push(`<line x1="${x(ms)}" x2="${x(ms)}" y1="${MARGIN.top - 4}" y2="${height - MARGIN.bottom}"/><text x="${x(ms)}" y="${MARGIN.top - 8}" text-anchor="middle">${formatMs(ms)}</text>`);
    }
    return `<g class="axis">${ticks.join("")}<line class="base" x1="${MARGIN.left}" x2="${x(scaleMs)}" y1="${MARGIN.top - 4}" y2="${MARGIN.top - 4}"/></g>`;
  }

  function draw() {
    frame = 0;
    const scale = Math.max(...lanes.map((lane) => lane.extent()), 1) * 1.04;
    lanes.forEach((lane) => lane.render(scale));
    // While a call runs, its clock and queued bars grow: ten frames a second is smooth enough.
    if (lanes.some((lane) => lane.live)) setTimeout(schedule, 100);
  }

  function schedule() {
    if (!frame) frame = requestAnimationFrame(draw);
  }

  async function run(lane, signal) {
    const path = STRATEGIES[lane.key][1];
    lane.el.dataset.state = "running";
    lane.startedAt = performance.now();
    schedule();
    try {
      const response = await fetch(`${path}/${lane.n}?trace=1`, {
        headers: { Accept: "application/x-ndjson", "X-Request-ID": lane.requestId },
        signal,
      });
      if (!(response.headers.get("Content-Type") || "").includes("ndjson")) {
        const body = await response.json().catch(() => ({ error: `the service answered ${response.status}` }));
        lane.fail(body.error);
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end;
        while ((end = buffer.indexOf("\n")) >= 0) {
          const text = buffer.slice(0, end);
          buffer = buffer.slice(end + 1);
          if (text) lane.take(JSON.parse(text));
        }
        schedule();
      }
      if (!lane.summary) lane.fail("the answer ended without a summary line");
    } catch (error) {
      lane.fail(error.name === "AbortError" ? "stopped: the service dropped the requests still queued" : `the service cannot be reached (${error.message})`);
    } finally {
      schedule();
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const n = Number(nInput.value);
    const chosen = strategySelect.value === "all" ? ORDER : [strategySelect.value];
    lanes = chosen.map((key) => new Lane(key, n));
    lanesEl.replaceChildren(...lanes.map((lane) => lane.el));
    controller = new AbortController();
    // A disabled button loses the focus: the keyboard's user is handed the control that acts now.
    const fromRun = document.activeElement === runButton;
    stopButton.disabled = false;
    if (fromRun) stopButton.focus();
    runButton.disabled = true;
    for (const lane of lanes) {
      if (controller.signal.aborted) lane.fail("not run: stopped");
      else await run(lane, controller.signal);
    }
    runButton.disabled = false;
    if (document.activeElement === stopButton || document.activeElement === document.body) runButton.focus();
    stopButton.disabled = true;
    document.body.dataset.finished = String(Date.now());
    schedule();
  });

  stopButton.addEventListener("click", () => controller && controller.abort());
  window.addEventListener("resize", schedule);
})();
