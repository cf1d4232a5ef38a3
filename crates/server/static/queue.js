// The review queue: filters (kept in the URL, so a filtered view can be bookmarked), the list,
// j/k to move through it, and a refresh every few seconds so new drafts appear.
import { get, query, seg } from './api.js';
import { brandName, crisisBanner, showError, signedIn } from './layout.js';
import { byId, h, shortcuts, statusBadge, time, words } from './dom.js';

const REFRESH_MS = 5000;
const FILTERS = ['brand', 'channel', 'status', 'urgency', 'sentiment'];

const form = byId('filters');
const list = byId('queue');
const status = byId('queue-status');
let brands = [];
let selected = null;
let loading = null;

/** A triage field as shown: a label, whether the server sends `"high"` or `{label, score}`. */
export function triageLabel(value) {
  if (value && typeof value === 'object') return value.label ?? value.value ?? '';
  return value ?? '';
}

function fillChannels() {
  const select = byId('f-channel');
  const current = select.value;
  const brand = form.elements.brand.value;
  const channels = new Map();
  for (const b of brands) {
    if (brand && b.id !== brand) continue;
    for (const c of b.channels ?? []) if (!channels.has(c.id)) channels.set(c.id, c.label || c.id);
  }
  select.replaceChildren(h('option', { value: '', text: 'All channels' }),
    ...[...channels].sort().map(([id, name]) => h('option', { value: id, text: brand ? name : id })));
  select.value = channels.has(current) ? current : '';
}

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  for (const name of FILTERS) {
    if (!params.has(name)) continue;
    const select = form.elements[name];
    const value = params.get(name);
    if ([...select.options].some((o) => o.value === value)) select.value = value;
  }
}

function currentFilters() {
  return Object.fromEntries(FILTERS.map((name) => [name, form.elements[name].value]));
}

function item(m) {
  const triage = m.triage ?? {};
  const urgency = triageLabel(triage.urgency);
  const sentiment = triageLabel(triage.sentiment);
  const tags = [
    urgency && h('span', { class: `tag urgency-${urgency}`, text: `${urgency} urgency` }),
    sentiment && h('span', { class: `tag sentiment-${sentiment}`, text: sentiment }),
    triage.toxic ? h('span', { class: 'tag toxic', text: 'toxic' }) : null,
    ...(triage.escalation ?? []).map((topic) => h('span', { class: 'tag escalation', text: `escalate: ${words(topic)}` })),
  ];
  return h('li', {},
    h('a', {
      class: 'queue-item',
      href: `/messages/${seg(m.id)}`,
      dataset: { id: m.id },
      'aria-current': m.id === selected ? 'true' : null,
    },
    h('span', { class: 'qi-head' },
      h('strong', { class: 'qi-author', text: m.author }),
      h('span', { class: 'qi-where', text: `${brandName(brands, m.brand)} · ${m.channel}` }),
      statusBadge(m.status)),
    h('span', { class: 'qi-text', text: m.text }),
    h('span', { class: 'qi-tags' }, tags, time(m.received_at))));
}

async function load() {
  const filters = currentFilters();
  const url = `${location.pathname}${query(filters)}`;
  if (url !== location.pathname + location.search) history.replaceState(null, '', url);
  const request = get(`/messages${query({ ...filters, limit: 200 })}`);
  loading = request;
  try {
    const { messages } = await request;
    if (loading !== request) return;
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(...messages.map(item));
    if (selected && !messages.some((m) => m.id === selected)) selected = null;
    if (hadFocus && selected) focusSelected();
    const summary = messages.length === 0
      ? 'No messages match these filters.'
      : `${messages.length} ${messages.length === 1 ? 'message' : 'messages'}.`;
    // A live region: rewriting it unchanged on every refresh would announce it again.
    if (status.textContent !== summary) status.textContent = summary;
  } catch (err) {
    if (loading === request) showError(status, err, 'load the queue');
  }
}

function links() {
  return [...list.querySelectorAll('a.queue-item')];
}

function focusSelected() {
  const link = links().find((a) => a.dataset.id === selected);
  if (link) link.focus();
}

function move(step) {
  const all = links();
  if (all.length === 0) return;
  const at = all.findIndex((a) => a.dataset.id === selected);
  const next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
  for (const a of all) a.removeAttribute('aria-current');
  all[next].setAttribute('aria-current', 'true');
  selected = all[next].dataset.id;
  all[next].focus();
  all[next].scrollIntoView({ block: 'nearest' });
}

async function main() {
  await signedIn();
  ({ brands } = await get('/brands'));
  const brandSelect = form.elements.brand;
  brandSelect.append(...brands.map((b) => h('option', { value: b.id, text: b.name ?? b.id })));
  filtersFromUrl();
  fillChannels();
  filtersFromUrl();
  form.addEventListener('change', (event) => {
    if (event.target === brandSelect) fillChannels();
    load();
  });
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  list.addEventListener('focusin', (event) => {
    const link = event.target.closest('a.queue-item');
    if (!link) return;
    for (const a of links()) a.removeAttribute('aria-current');
    link.setAttribute('aria-current', 'true');
    selected = link.dataset.id;
  });
  shortcuts({
    j: () => move(1),
    k: () => move(-1),
    o: () => { const a = links().find((l) => l.dataset.id === selected); if (a) a.click(); },
  });
  await load();
  crisisBanner(brands);
  setInterval(() => { if (document.visibilityState === 'visible') load(); }, REFRESH_MS);
}

main().catch((err) => showError(status, err, 'open the queue'));
