// The crisis page: a brand's detected spikes, what people report (quoted verbatim), and the
// suggested holding statement with its guideline check.
import { get, seg } from './api.js';
import { crisisBanner, showError, signedIn } from './layout.js';
import { byId, h, time } from './dom.js';
import { highlighted, violationList } from './highlight.js';

const form = byId('crisis-filters');
const status = byId('crisis-status');
const list = byId('summaries');

const pct = (x) => `${Math.round(x * 100)}%`;

function summary(s, i) {
  const heading = `spike-${i}`;
  const negativeShare = s.messages ? s.negative / s.messages : 0;
  const stats = [
    ['Messages', `${s.messages} (${s.negative} negative, ${pct(negativeShare)})`],
    ['Period', [time(s.since), ' – ', time(s.until)]],
    ['Peak', `${s.peak_window} in ${s.window_minutes} min (baseline ${Number(s.baseline_per_window ?? 0).toFixed(1)} per window)`],
    s.baseline_negative_share !== null && s.baseline_negative_share !== undefined ? ['Baseline negative share', pct(s.baseline_negative_share)] : null,
    s.affected ? ['Affected', `${s.affected.name} (named in ${s.affected.mentions})`] : null,
  ].filter(Boolean);
  const hold = s.holding_statement;
  return h('article', { class: 'card spike', 'aria-labelledby': heading },
    h('h2', { id: heading, text: s.label }),
    h('ul', { class: 'keywords', 'aria-label': 'Keywords' }, (s.keywords ?? []).map((k) => h('li', { class: 'tag', text: k }))),
    h('dl', { class: 'stats' }, stats.flatMap(([k, v]) => [h('dt', { text: k }), h('dd', {}, v)])),
    h('h3', { text: 'What people say' }),
    h('ul', { class: 'quotes' }, (s.quotes ?? []).map((q) => h('li', {},
      h('blockquote', { text: q.text }),
      h('p', { class: 'muted' }, `${q.author} on ${q.channel}, `, time(q.created_at), ' · ',
        h('a', { href: `/messages/${seg(q.id)}`, text: 'open' }))))),
    hold ? h('section', { class: 'holding', 'aria-label': 'Suggested holding statement' },
      h('h3', { text: `Suggested holding statement (${hold.channel})` }),
      h('p', { class: 'holding-text' }, highlighted(hold.text, hold.violations ?? [])),
      hold.violations?.length
        ? violationList(h('ul', { class: 'violations', 'aria-label': 'Guideline violations in the holding statement' }), hold.violations)
        : h('p', { class: 'clean', text: 'No guideline violations.' }),
      hold.blocked ? h('p', { class: 'error', text: 'Blocked: a person must rewrite it before it is posted.' }) : null) : null);
}

async function load() {
  const brand = form.elements.brand.value;
  if (!brand) return;
  history.replaceState(null, '', `${location.pathname}?brand=${seg(brand)}`);
  status.textContent = 'Scanning recent messages…';
  list.setAttribute('aria-busy', 'true');
  try {
    const crisis = await get(`/brands/${seg(brand)}/crisis`);
    const n = crisis.summaries?.length ?? 0;
    status.textContent = `${crisis.active ? 'Crisis mode is on.' : 'Crisis mode is off.'} ${n ? `${n} ${n === 1 ? 'spike' : 'spikes'} detected.` : 'No spikes detected.'}`;
    status.dataset.state = crisis.active ? 'active' : 'calm';
    list.replaceChildren(...(crisis.summaries ?? []).map(summary));
  } catch (err) {
    list.replaceChildren();
    showError(status, err, 'read the crisis radar');
  } finally {
    list.removeAttribute('aria-busy');
  }
}

async function main() {
  await signedIn();
  const { brands } = await get('/brands');
  const select = form.elements.brand;
  select.append(...brands.map((b) => h('option', { value: b.id, text: `${b.name ?? b.id}${b.crisis_mode ? ' (crisis mode)' : ''}` })));
  const wanted = new URLSearchParams(location.search).get('brand');
  if (brands.some((b) => b.id === wanted)) select.value = wanted;
  if (brands.length === 0) status.textContent = 'No brands are configured.';
  form.addEventListener('change', load);
  form.addEventListener('submit', (event) => { event.preventDefault(); load(); });
  await load();
  crisisBanner(brands);
}

main().catch((err) => showError(status, err, 'open the crisis page'));
