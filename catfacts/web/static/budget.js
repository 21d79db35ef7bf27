// The budget strip above the lanes: what `GET /budget` says, live. The rate in force and where it
// came from, what the upstream last said remains and when it resets, any pause, the limiter's
// slots in use, every client's calls in flight (other callers' too, across workers with Redis)
// and how long a call of the chosen n would take now. A look spends nothing upstream.
"use strict";

const FAST_MS = 300; // while calls run, the page's or anyone's
const SLOW_MS = 1000; // while the budget is idle
const NAMED = { 1: "a second", 60: "a minute", 3600: "an hour" };
// The state a screen reader is told of, once per change; the numbers are not read as they move.
const SAID = {
  idle: "The budget is idle.",
  busy: "The budget is in use: calls are in flight.",
  paused: "The upstream paused the service after a 429.",
  unreadable: "The budget cannot be read now.",
};

// One look at the budget for a call of n (n left out when it is not a count the service takes).
export async function peek(n, signal) {
  const query = Number.isInteger(n) && n >= 0 ? `?n=${n}` : "";
  const response = await fetch(`/budget${query}`, { headers: { Accept: "application/json" }, signal, cache: "no-store" });
  const body = await response.json().catch(() => ({ error: `the service answered ${response.status}` }));
  if (!response.ok) throw new Error(body.error || `the service answered ${response.status}`);
  return body;
}

const seconds = (s) => `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
const plural = (count, one, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

export function perWindow(limit, window) {
  return `${limit} ${NAMED[window] ? NAMED[window] : `per ${window} s`}`;
}

// What each field of the strip shows, from one look.
function fields(look) {
  const calls = look.calls.reduce((sum, c) => sum + c.calls, 0);
  const clients = look.calls.map((c) => `${c.client}${c.you ? " (this page's address)" : ""}: ${plural(c.calls, "call")}, ${c.queued} queued`);
  let said = "nothing yet";
  if (look.remaining != null) {
    said = look.reset > 0 ? `${look.remaining} left, resets in ${seconds(look.reset)}` : "its window is over: full again";
  }
  return {
    rate: `${perWindow(look.limit, look.window)}, ${look.source}`,
    upstream: said,
    pause: look.paused_for > 0 ? `${seconds(look.paused_for)} left, after a 429` : "none",
    slots: `${look.slots_in_use} of ${look.limit}${look.in_flight ? `, ${look.in_flight} in flight` : ""}`,
    calls: calls ? `${calls}: ${clients.join("; ")}` : "none",
    wait: `ends in ~${seconds(look.wait)}`,
    shared: look.shared ? "across workers (Redis)" : "this worker's own",
  };
}

function stateOf(look) {
  if (look.paused_for > 0) return "paused";
  return look.calls.length || look.slots_in_use ? "busy" : "idle";
}

export class BudgetStrip {
  // `el` is the strip's section; `chosenN()` the n a new call would ask for now.
  constructor(el, chosenN) {
    this.el = el;
    this.chosenN = chosenN;
    this.values = Object.fromEntries([...el.querySelectorAll("[data-field]")].map((dd) => [dd.dataset.field, dd]));
    this.waitLabel = el.querySelector(".wait-label");
    this.said = el.querySelector(".said");
    this.timer = 0;
    this.looking = false;
    this.running = false;
    el.querySelector(".look").addEventListener("click", () => this.look());
    document.addEventListener("visibilitychange", () => (document.hidden ? this.stop() : this.look()));
  }

  // The page's own calls run or stopped: look often while they do.
  busy(running) {
    this.running = running;
    if (running) this.look();
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = 0;
  }

  async look() {
    if (this.looking) return;
    this.stop();
    this.looking = true;
    const n = this.chosenN();
    let state = "unreadable";
    try {
      const look = await peek(n);
      this.show(look);
      state = stateOf(look);
    } catch (error) {
      this.el.dataset.error = error.message;
      this.values.rate.textContent = `cannot be read: ${error.message}`;
    } finally {
      this.looking = false;
    }
    this.tell(state);
    if (!document.hidden) this.timer = setTimeout(() => this.look(), this.running || state !== "idle" ? FAST_MS : SLOW_MS);
  }

  show(look) {
    const shown = fields(look);
    for (const [field, text] of Object.entries(shown)) this.values[field].textContent = text;
    this.waitLabel.textContent = `a call of ${look.n} now`;
    delete this.el.dataset.error;
    Object.assign(this.el.dataset, {
      limit: look.limit,
      windowS: look.window,
      source: look.source,
      calls: look.calls.reduce((sum, c) => sum + c.calls, 0),
      clients: look.calls.map((c) => c.client).join(" "),
      slots: look.slots_in_use,
      waitMs: Math.round(look.wait * 1000),
      looks: Number(this.el.dataset.looks || 0) + 1,
    });
  }

  // A polite word on a change of state only: idle, busy, paused, unreadable.
  tell(state) {
    if (this.el.dataset.state === state) return;
    this.el.dataset.state = state;
    this.said.textContent = SAID[state];
  }
}
