// Draft sessions: one per request from a page (the selected text, where it came from, the
// server's message and its candidates, the user's edit). Held in chrome.storage.session so a
// restarted service worker or a closed panel loses nothing until the browser quits; the
// service worker is the only writer, and every change is pushed to the open panels.

const KEY = 'tact';
/** Older sessions are dropped beyond this many (the server keeps the messages). */
const KEEP = 20;
/** Stream deltas arrive per token: coalesce writes and pushes to one per this many ms. */
const FLUSH_MS = 60;

let cache = null;
let flushTimer = null;
const listeners = new Set();

/** Where in its life a session is, as the panel shows it. */
export const Stage = Object.freeze({
  Requesting: 'requesting',
  Drafting: 'drafting',
  Review: 'review',
  Approved: 'approved',
  Posted: 'posted',
  Closed: 'closed',
  Failed: 'failed',
});

async function load() {
  if (!cache) {
    const stored = (await chrome.storage.session.get(KEY))[KEY];
    cache = stored ?? { sessions: [], currentId: null };
  }
  return cache;
}

/** Calls `listener(state)` after every flushed change. */
export function onChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export async function snapshot() {
  return structuredClone(await load());
}

export async function get(id) {
  const state = await load();
  return state.sessions.find((s) => s.id === id) ?? null;
}

/** Adds a session and makes it the one the panel shows. */
export async function add(session) {
  const state = await load();
  state.sessions.unshift(session);
  state.sessions.length = Math.min(state.sessions.length, KEEP);
  state.currentId = session.id;
  await flushNow();
  return session;
}

export async function select(id) {
  const state = await load();
  if (!state.sessions.some((s) => s.id === id)) return;
  state.currentId = id;
  await flushNow();
}

/** Applies `change(session)` to the session `id` (a no-op when it is gone). */
export async function update(id, change, { immediate = true } = {}) {
  const state = await load();
  const session = state.sessions.find((s) => s.id === id);
  if (!session) return null;
  change(session);
  session.updatedAt = new Date().toISOString();
  if (immediate) await flushNow();
  else scheduleFlush();
  return session;
}

function scheduleFlush() {
  flushTimer ??= setTimeout(() => {
    flushNow().catch((error) => console.error('tact: saving the panel state failed', error));
  }, FLUSH_MS);
}

async function flushNow() {
  clearTimeout(flushTimer);
  flushTimer = null;
  const state = await load();
  await chrome.storage.session.set({ [KEY]: state });
  for (const listener of listeners) listener(state);
}
