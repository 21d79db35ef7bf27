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

// When the upstream's budget is full again, from what the page did and what the service says.
// The page knows its own calls that take no slot in the service's limiter (one by one, all at
// once): the upstream counted each of their requests before answering it, and whatever window
// counted one (fixed from its first hit, or sliding) is over a window after the call ended.
// Everything else the service's `GET /budget` tells: the limiter's slots still counting against
// the limit (the limited strategy's, every caller's, a window after their answers, across workers
// with Redis), a pause after a 429, and what the upstream last said remains until its reset.
export const WINDOW = "the upstream's window to refill";
export const PAUSE = "the upstream's pause after a 429 to end";
export const OTHERS = "other callers' requests to leave the upstream's window";
const OUTSIDE = new Set(["one_by_one", "all_at_once"]); // the strategies that take no slot
const LOOK_EVERY_MS = 250; // while the page waits, a look at the budget this often
const OTHERS_AT_MOST = 2; // windows the page waits for other callers' spending, then starts anyway

export class Budget {
  constructor(windowS) {
    this.windowMs = windowS * 1000;
    this.spentAt = null;
  }

  // A call of the strategy `key` just ended: `requests` upstream requests, under the rate its
  // summary names. The limited strategy's are the service's to count (its slots).
  spent(key, requests, summary) {
    if (summary && summary.limit) this.windowMs = summary.limit.window_s * 1000;
    if (requests > 0 && OUTSIDE.has(key)) this.spentAt = performance.now();
  }

  // Milliseconds until the page's own calls outside the limiter have left the upstream's window.
  ownMs() {
    return this.spentAt == null ? 0 : Math.max(this.spentAt + this.windowMs - performance.now(), 0);
  }

  // What a call must wait for now, {ms, why, firm}, from the page's own calls and the service's
  // `look` (null when the service could not be asked: the page's own count alone). `firm`: the
  // page's own calls or a pause still hold it, which no other caller's spending excuses. The page
  // waits between its calls, so the calls in flight are other callers'.
  needs(look) {
    const own = { ms: this.ownMs(), why: WINDOW, firm: true };
    if (!look) return own;
    this.windowMs = look.window * 1000;
    const waits = [own, { ms: look.paused_for * 1000, why: PAUSE, firm: true }];
    const said = look.remaining != null && look.reset > 0 && look.remaining < look.limit;
    if (said) waits.push({ ms: look.reset * 1000, why: WINDOW });
    if (look.slots_in_use > 0 || look.calls.length > 0) {
      // Slots free a window after their answers at the latest; the reset, if said, may be sooner.
      const why = look.calls.length > 0 ? OTHERS : WINDOW;
      waits.push({ ms: look.reset > 0 ? look.reset * 1000 : this.windowMs, why });
    }
    const most = waits.reduce((longest, wait) => (wait.ms > longest.ms ? wait : longest));
    const firm = own.ms > 0 || look.paused_for > 0;
    return { ...most, firm, others: look.calls.length > 0 };
  }

  // Wait until a call of n would start on a full budget, looking at the budget every 250 ms and
  // calling tick(ms left, why) as it counts down. Resolves to {ms waited, why, busy}: `busy` when
  // other callers kept spending for OTHERS_AT_MOST windows and the page started anyway.
  async refill(n, signal, peek, tick) {
    const began = performance.now();
    let why = WINDOW;
    for (;;) {
      const look = await peek(n, signal).catch(() => null);
      if (signal.aborted) break;
      const need = this.needs(look);
      const waited = performance.now() - began;
      if (need.ms <= 0) break;
      why = need.why;
      if (need.others && !need.firm && waited >= OTHERS_AT_MOST * this.windowMs) {
        return { ms: waited, why: OTHERS, busy: true };
      }
      const looked = performance.now();
      await countdown(Math.min(need.ms, LOOK_EVERY_MS), signal, () => tick(need.ms - (performance.now() - looked), why));
    }
    return { ms: performance.now() - began, why, busy: false };
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
