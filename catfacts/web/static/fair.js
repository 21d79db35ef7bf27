// A fair side by side: each strategy starts on a full budget of the upstream's, and is drawn
// against its own physical ideal, not another's.
"use strict";

// What each strategy would take if only the network cost time, from the rate in force and this
// call's median round trip: one by one waits for n answers in turn; all at once sends everything
// together; limited sends a window's worth, waits for the next window, and so on, and its last
// requests take one round trip. The limited model is the service's own `ideal_ms`.
const MODELS = {
  one_by_one: (n) => ({ windows: 0, trips: n }),
  all_at_once: () => ({ windows: 0, trips: 1 }),
  limited: (n, limit) => ({ windows: Math.ceil(n / limit) - 1, trips: 1 }),
};

// The ideal of the strategy `key` for n facts, {ms, model}, from a call's summary line; null
// until the call has a round trip to go by.
export function idealOf(key, n, summary) {
  const rtt = summary && summary.round_trip_ms;
  if (rtt == null || !(key in MODELS)) return null;
  const { windows, trips } = MODELS[key](n, summary.limit.requests);
  const parts = windows ? [`${windows} window${windows > 1 ? "s" : ""}`] : [];
  parts.push(trips === 1 ? "one round trip" : `${trips} round trips`);
  return { ms: windows * summary.limit.window_s * 1000 + trips * rtt, model: parts.join(" + ") };
}

// When the upstream's budget is full again, as far as this page can tell: one window after the
// last call that spent some of it ended. The upstream counted each of that call's requests before
// answering it, and whatever window counted one (fixed from its first hit, or sliding) is over a
// window later. This knows only the page's own calls; `GET /budget` can say when other callers'
// spending refills too, and `refillMs` is the one place to ask it.
export class Budget {
  constructor(windowS) {
    this.windowMs = windowS * 1000;
    this.spentAt = null;
  }

  // A call just ended: `requests` upstream requests, under the rate its summary names.
  spent(requests, summary) {
    if (summary && summary.limit) this.windowMs = summary.limit.window_s * 1000;
    if (requests > 0) this.spentAt = performance.now();
  }

  refillMs() {
    return this.spentAt == null ? 0 : Math.max(this.spentAt + this.windowMs - performance.now(), 0);
  }
}

// Wait `ms`, calling tick(ms left) ten times a second; over at once if `signal` aborts.
export function countdown(ms, signal, tick) {
  const until = performance.now() + ms;
  return new Promise((resolve) => {
    const step = () => {
      const left = until - performance.now();
      if (left <= 0 || signal.aborted) {
        signal.removeEventListener("abort", step);
        resolve();
        return;
      }
      tick(left);
      setTimeout(step, Math.min(left, 100));
    };
    signal.addEventListener("abort", step);
    step();
  });
}
