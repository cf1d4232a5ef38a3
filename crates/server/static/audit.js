// The audit log across messages (approver tokens and up), newest first.
import { get, query, seg } from './api.js';
import { crisisBanner, showError, signedIn } from './layout.js';
import { byId, h, time, words } from './dom.js';
import { diff } from './highlight.js';

const form = byId('audit-filters');
const rows = byId('audit-rows');
const status = byId('audit-status');

function row(e) {
  return h('tr', {},
    h('td', {}, time(e.at)),
    h('td', { text: e.actor }),
    h('td', {}, words(e.action), e.from || e.to ? h('span', { class: 'transition', text: ` ${e.from ? words(e.from) : ''} → ${words(e.to)}` }) : null),
    h('td', {}, h('a', { href: `/messages/${seg(e.message_id)}`, text: e.message_id }), h('span', { class: 'muted', text: ` ${e.brand}` })),
    h('td', {},
      e.note ? h('p', { class: 'note', text: e.note }) : null,
      e.diff ? h('p', { class: 'diff' }, diff(e.diff)) : e.final_text ? h('p', { class: 'diff', text: e.final_text }) : null));
}

async function load() {
  const params = { brand: form.elements.brand.value, limit: form.elements.limit.value };
  history.replaceState(null, '', `${location.pathname}${query({ brand: params.brand })}`);
  status.textContent = 'Loading…';
  try {
    const { entries } = await get(`/audit${query(params)}`);
    const newest = [...entries].sort((a, b) => (b.seq ?? 0) - (a.seq ?? 0));
    rows.replaceChildren(...newest.map(row));
    status.textContent = entries.length ? `${entries.length} entries.` : 'No audit entries yet.';
  } catch (err) {
    rows.replaceChildren();
    showError(status, err, 'read the audit log');
  }
}

async function main() {
  await signedIn();
  const { brands } = await get('/brands');
  form.elements.brand.append(...brands.map((b) => h('option', { value: b.id, text: b.name ?? b.id })));
  const wanted = new URLSearchParams(location.search).get('brand');
  if (brands.some((b) => b.id === wanted)) form.elements.brand.value = wanted;
  form.addEventListener('change', load);
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  await load();
  crisisBanner(brands);
}

main().catch((err) => showError(status, err, 'open the audit log'));
