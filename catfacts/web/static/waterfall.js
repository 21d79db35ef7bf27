// The waterfall: run a strategy (or all three, one after another, each on a full budget), read its
// streamed answer with its timeline (NDJSON, ?trace=1), and draw one row per fact asked for and one
// bar per upstream request in it, on a time axis shared by every lane, with the strategy's own
// ideal, and on the limited lane a marker where the call is expected to end (its streamed `eta`).
// Above the lanes, the budget as `GET /budget` says it (budget.js). Plain DOM and SVG: nothing to
// build.
"use strict";

import { BudgetStrip, peek } from "./budget.js";
import { Budget, idealOf } from "./fair.js";

(() => {
  const lanesEl = document.getElementById("lanes");
  const form = document.getElementById("controls");
  const nInput = document.getElementById("n");
  const strategySelect = document.getElementById("strategy");
  const runButton = document.getElementById("run");
  const stopButton = document.getElementById("stop");
  const STRATEGIES = JSON.parse(lanesEl.dataset.strategies); // key -> [label, path]
  const ORDER = JSON.parse(lanesEl.dataset.order); // the table's order, which JSON objects lose
  const budget = new Budget(Number(lanesEl.dataset.window)); // the rate in force when served
  const strip = new BudgetStrip(document.getElementById("budget"), () => (nInput.validity.valid ? Number(nInput.value) : null));
  const MARGIN = { left: 38, right: 64, top: 20, bottom: 4 };
  const HEAD = MARGIN.top + 12; // the axis, then a line for the markers' labels
  const ETA_LINE = 12; // and below it, on a lane with an estimate, a line for the ETA's label
  const PAD = 4; // above the first row, so that its label is not cut by the rows' box
  // Rows are 9 px while n is small, shrink to fill 420 px as n grows, and never go below 5 px: past
  // that (n > 84) the rows scroll in their own box (.rows, max-height in the CSS), not the page.
  const ROW = { tall: 9, least: 5, plot: 420, shortest: 90 };

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
      this.ideal = null; // {ms, model}: this strategy's own, once the call has a round trip
      this.failure = null;
      this.startedAt = null;
      this.etaMs = null; // where on the lane's time axis the call is expected to end, as last said
      this.etaFirstMs = null; // as said at the door (`X-Facts-Estimate`)
      this.requestId = `page-${key}-${Math.random().toString(16).slice(2, 10)}`;
      this.el = document.createElement("section");
      this.el.className = "lane";
      this.el.dataset.strategy = key;
      this.el.dataset.requestId = this.requestId;
      this.el.dataset.state = "waiting";
      const label = escape(STRATEGIES[key][0]);
      // The time axis and the markers' labels stay above the rows' box, seen while the rows scroll.
      this.el.innerHTML = `<h2>${label} <span class="stats">waiting…</span></h2>
        <p class="notice" role="status"></p><p class="failure" hidden></p><svg class="head" aria-hidden="true"></svg>
        <div class="rows" tabindex="0" role="region" aria-label="rows of ${label}, one per fact"><svg class="plot" role="img" aria-label="waterfall of ${label}"></svg></div>`;
      this.stats = this.el.querySelector(".stats");
      this.notice = this.el.querySelector(".notice");
      this.failureEl = this.el.querySelector(".failure");
      this.head = this.el.querySelector("svg.head");
      this.box = this.el.querySelector(".rows");
      this.svg = this.el.querySelector("svg.plot");
    }

    get live() { return this.el.dataset.state === "running"; }

    elapsed() {
      if (this.summary) return this.summary.total_ms;
      return this.startedAt == null ? 0 : performance.now() - this.startedAt;
    }

    extent() {
      let most = this.elapsed();
      if (this.ideal) most = Math.max(most, this.ideal.ms);
      if (this.etaShown() != null) most = Math.max(most, this.etaShown());
      for (const r of this.requests.values()) most = Math.max(most, r.answered_ms || 0);
      return most;
    }

    addRequest(request) {
      this.requests.set(`${request.fact}:${request.attempt}`, request);
      const before = this.requests.get(`${request.fact}:${request.attempt - 1}`);
      if (before) before.retried = true;
    }

    // The call's estimate, in seconds left, as of now: the marker goes to now + that.
    estimate(seconds, first = false) {
      if (!Number.isFinite(seconds)) return;
      this.etaMs = this.elapsed() + seconds * 1000;
      if (first || this.etaFirstMs == null) this.etaFirstMs = this.etaMs;
      this.el.dataset.etaMs = Math.round(this.etaMs);
      this.el.dataset.etaFirstMs = Math.round(this.etaFirstMs);
    }

    // While the call runs, the latest estimate; once it is over, the one given at the door.
    etaShown() {
      return this.live ? this.etaMs : this.etaFirstMs;
    }

    take(line) {
      if (typeof line.eta === "number" && line.eta > 0 && !line.summary) this.estimate(line.eta);
      if ("fact" in line) this.facts += 1;
      else if (line.request) this.addRequest(line.request);
      else if (line.wait) this.waits.push(line.wait);
      else if (line.summary) this.finish(line);
    }

    finish(line) {
      this.summary = line.summary;
      this.ideal = idealOf(this.key, this.n, line.summary);
      this.el.dataset.roundTripMs = line.summary.round_trip_ms ?? "";
      this.el.dataset.idealMs = this.ideal ? this.ideal.ms : "";
      this.el.dataset.returned = line.summary.returned;
      this.el.dataset.totalMs = line.summary.total_ms;
      if (line.trace) {
        this.requests = new Map();
        line.trace.requests.forEach((r) => this.addRequest(r));
        this.waits = line.trace.waits;
      }
      if (line.error) this.fail(line.error);
      this.el.dataset.state = line.error ? "failed" : "done";
    }

    // Before the call: the wait for a full budget, counted down (`left` ms, as the budget last
    // looked, waiting for `why`); the sentence is set once for a screen reader to say once, again
    // only if what it waits for changes, and only the seconds move.
    refilling(left, why) {
      if (this.notice.dataset.why !== why) {
        this.notice.className = "notice counting";
        this.notice.dataset.why = why;
        this.notice.innerHTML = `waiting ${(left / 1000).toFixed(1)} s for ${escape(why)} so each strategy starts on a full budget <b aria-hidden="true"></b>`;
      }
      this.notice.querySelector("b").textContent = `${(Math.max(left, 0) / 1000).toFixed(1)} s`;
    }

    // After the wait: how long it was, and whether other callers were still spending.
    refilled({ ms, why, busy }) {
      this.el.dataset.refillMs = Math.round(ms);
      this.notice.className = "notice";
      delete this.notice.dataset.why;
      const waited = `${(ms / 1000).toFixed(1)} s`;
      this.notice.textContent = busy
        ? `started after waiting ${waited} for ${why}: they still spend the budget, so this strategy shares it`
        : `started on a full budget, after waiting ${waited} for ${why}`;
    }

    fail(message) {
      this.failure = message;
      this.failureEl.textContent = message;
      this.failureEl.hidden = false;
      this.el.dataset.state = "failed";
    }

    header() {
      if (this.startedAt == null && !this.failure) {
        this.stats.textContent = this.notice.textContent ? "waiting for the upstream's window" : "waits its turn";
        return;
      }
      const s = this.summary;
      const refused = [...this.requests.values()].filter((r) => r.outcome === "refused").length;
      const facts = s ? s.returned : this.facts;
      const whole = facts === this.n ? "good" : "bad";
      const lost = s && facts < this.n ? ` (${this.n - facts} lost)` : "";
      const parts = [`<b class="${this.live ? "" : whole}">${facts} / ${this.n}</b> facts${lost}`];
      parts.push(`<b>${formatMs(this.elapsed())}</b>${this.live ? "…" : ""}`);
      const ideal = this.ideal;
      if (ideal) {
        const over = s.returned === this.n && ideal.ms > 0 ? ` (${(s.total_ms / ideal.ms).toFixed(2)}×)` : "";
        parts.push(`<span class="ideal">ideal ${formatMs(ideal.ms)} = ${ideal.model}${over}</span>`);
      }
      const eta = this.etaShown();
      if (eta != null && this.live) parts.push(`<span class="eta">ends in ~${formatMs(Math.max(eta - this.elapsed(), 0))}</span>`);
      else if (eta != null && s) parts.push(`<span class="eta">ETA at the start ${formatMs(eta)} (${s.total_ms >= eta ? "+" : "−"}${Math.abs((s.total_ms / eta - 1) * 100).toFixed(0)}%)</span>`);
      parts.push(`<span class="${refused ? "bad" : ""}">${refused} × 429</span>`);
      parts.push(`${this.requests.size} requests`);
      if (s) parts.push(`worker ${s.worker}`);
      this.stats.innerHTML = parts.join(" · ");
    }

    render(scaleMs) {
      this.header();
      const rowH = Math.max(Math.min(Math.max(this.n * ROW.tall, ROW.shortest), ROW.plot) / this.n, ROW.least);
      const rows = rowH * this.n;
      const barH = rowH * 0.72;
      const height = PAD + rows + MARGIN.bottom;
      // The height first: whether the box shows a scrollbar decides the width left to draw in.
      this.svg.setAttribute("height", height);
      const width = Math.max(this.box.clientWidth || 900, 300);
      const plot = width - MARGIN.left - MARGIN.right;
      const x = (ms) => MARGIN.left + (Math.max(ms, 0) / scaleMs) * plot;
      const y = (fact) => PAD + (fact - 1) * rowH + (rowH - barH) / 2;
      const out = [];
      const head = [];

      head.push(axis(scaleMs, x));
      out.push(grid(scaleMs, x, height));
      // A wait's label sits at the bottom of what the box shows at first, not of all the rows.
      const labelY = PAD + Math.min(rows, ROW.plot) - 6;
      for (const w of merged(this.waits, scaleMs / plot)) {
        const left = x(w.start_ms);
        const span = Math.max(x(w.end_ms) - left, 1);
        out.push(`<g class="wait"><rect class="waitband" x="${left}" y="${PAD}" width="${span}" height="${rows}"><title>waited ${formatMs(w.end_ms - w.start_ms)} for ${escape(w.reason)}</title></rect>`);
        const label = `waiting for ${w.reason}`;
        if (span > label.length * 5.6 + 12 && rows > 40) {
          out.push(`<text class="waitlabel" x="${left + span / 2}" y="${labelY}" text-anchor="middle">${escape(label)}</text>`);
        }
        out.push("</g>");
      }
      const byFact = new Map();
      for (const r of this.requests.values()) {
        if (!byFact.has(r.fact)) byFact.set(r.fact, []);
        byFact.get(r.fact).push(r);
      }
      const now = this.elapsed();
      // Row numbers at least 14 px apart, on a round step (1, 2, 5, 10, 20, 50…), and fact 1.
      const fewest = Math.ceil(14 / rowH);
      const power = 10 ** Math.floor(Math.log10(fewest));
      const labelEvery = [1, 2, 5, 10].map((m) => m * power).find((step) => step >= fewest);
      for (let fact = 1; fact <= this.n; fact++) {
        const top = y(fact);
        out.push(`<g class="row" data-fact="${fact}">`);
        if (fact === 1 || (fact % labelEvery === 0 && fact - 1 >= fewest)) {
          out.push(`<text class="rowlabel" x="${MARGIN.left - 6}" y="${top + barH / 2 + 3.5}" text-anchor="end">${fact}</text>`);
        }
        const attempts = byFact.get(fact) || [];
        if (!attempts.length && this.live) {
          out.push(`<rect class="pending" x="${x(0)}" y="${top + barH * 0.35}" width="${x(now) - x(0)}" height="${barH * 0.3}"/>`);
        }
        for (const r of attempts) out.push(bar(r, x, top, barH));
        out.push("</g>");
      }
      // The earlier of the ideal and the total has its label left of its line, the later right
      // of it, so the two never overlap when they are close.
      const markers = [];
      if (this.ideal) markers.push(["ideal", this.ideal.ms, "ideal"]);
      if (this.startedAt != null) markers.push([this.live ? "now" : "total", now, this.live ? "" : formatMs(now)]);
      const latest = Math.max(...markers.map(([, ms]) => ms));
      for (const [kind, ms, label] of markers) {
        const side = markers.length > 1 && ms < latest ? "left" : "right";
        head.push(marker(kind, ms, label, x, MARGIN.top - 4, HEAD, side));
        out.push(marker(kind, ms, "", x, 0, height - MARGIN.bottom));
      }
      // The ETA's label has a line of its own, below the others: it may sit right on the total.
      const eta = this.etaShown();
      const headH = eta == null ? HEAD : HEAD + ETA_LINE;
      if (eta != null) {
        const label = `ETA ${(eta / 1000).toFixed(1)} s`;
        head.push(marker("eta", eta, label, x, MARGIN.top - 4, headH, "right", ETA_LINE));
        out.push(marker("eta", eta, "", x, 0, height - MARGIN.bottom));
      }
      // Both drawings get the box's width, so the axis stays over the rows beside a scrollbar.
      this.head.setAttribute("viewBox", `0 0 ${width} ${headH}`);
      this.head.setAttribute("width", width);
      this.head.setAttribute("height", headH);
      this.head.innerHTML = head.join("");
      this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      this.svg.setAttribute("width", width);
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

  // A marker's line runs from top to bottom; its label, if any, sits beside the line's top.
  function marker(kind, ms, label, x, top, bottom, side = "right", lower = 0) {
    const at = x(ms);
    const place = side === "left" ? `x="${at - 4}" text-anchor="end"` : `x="${at + 4}"`;
    return `<g class="marker ${kind}" data-ms="${Math.round(ms)}"><line x1="${at}" x2="${at}" y1="${top}" y2="${bottom}"/>${label ? `<text ${place} y="${top + 12 + lower}">${escape(label)}</text>` : ""}</g>`;
  }

  function ticks(scaleMs) {
    const rough = scaleMs / 8;
    const power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough);
    const out = [];
    for (let ms = 0; ms <= scaleMs + 1e-9; ms += step) out.push(ms);
    return out;
  }

  // The axis above the box: the times and the base line.
  function axis(scaleMs, x) {
    const labels = ticks(scaleMs).map((ms) => `<line x1="${x(ms)}" x2="${x(ms)}" y1="${MARGIN.top - 4}" y2="${HEAD}"/><text x="${x(ms)}" y="${MARGIN.top - 8}" text-anchor="middle">${formatMs(ms)}</text>`);
    return `<g class="axis">${labels.join("")}<line class="base" x1="${MARGIN.left}" x2="${x(scaleMs)}" y1="${MARGIN.top - 4}" y2="${MARGIN.top - 4}"/></g>`;
  }

  // The axis's lines carried down through the rows.
  function grid(scaleMs, x, height) {
    const lines = ticks(scaleMs).map((ms) => `<line x1="${x(ms)}" x2="${x(ms)}" y1="0" y2="${height - MARGIN.bottom}"/>`);
    return `<g class="axis">${lines.join("")}</g>`;
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
      const estimate = response.headers.get("X-Facts-Estimate");
      if (estimate != null) lane.estimate(Number(estimate), true);
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
    strip.busy(true);
    for (const lane of lanes) {
      const signal = controller.signal;
      const waited = await budget.refill(n, signal, peek, (left, why) => lane.refilling(left, why));
      if (signal.aborted) {
        lane.fail("not run: stopped");
        continue;
      }
      if (waited.ms > 0 && lane.notice.dataset.why) lane.refilled(waited);
      await run(lane, signal);
      budget.spent(lane.key, lane.requests.size, lane.summary);
    }
    strip.busy(false);
    runButton.disabled = false;
    if (document.activeElement === stopButton || document.activeElement === document.body) runButton.focus();
    stopButton.disabled = true;
    document.body.dataset.finished = String(Date.now());
    schedule();
  });

  stopButton.addEventListener("click", () => controller && controller.abort());
  nInput.addEventListener("change", () => strip.look());
  strip.look();
  window.addEventListener("resize", schedule);
})();
