// The options page: edits the settings and tests them against the server before anyone relies
// on them, saying which part is wrong (address, CORS, token, role, brand or channel).
import { TactClient, TactError } from './lib/api.js';
import { loadSettings, saveSettings, validateSettings } from './lib/settings.js';

const FIELDS = ['server', 'token', 'brand', 'channel'];
const form = document.getElementById('settings');
const result = document.getElementById('result');

function readForm() {
  return Object.fromEntries(FIELDS.map((f) => [f, form.elements[f].value]));
}

/** Shows each field's error next to it; returns whether there were none. */
function showErrors(errors) {
  for (const field of FIELDS) {
    const message = errors[field] ?? '';
    document.getElementById(`${field}-error`).textContent = message;
    form.elements[field].setAttribute('aria-invalid', String(Boolean(message)));
  }
  const first = FIELDS.find((f) => errors[f]);
  if (first) form.elements[first].focus();
  return !first;
}

function report(outcome, title, lines = []) {
  result.hidden = false;
  result.dataset.outcome = outcome;
  result.replaceChildren();
  const heading = document.createElement('strong');
  heading.textContent = title;
  result.append(heading);
  for (const line of lines) {
    const p = document.createElement('p');
    p.textContent = line;
    result.append(p);
  }
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const { settings, errors } = validateSettings(readForm());
  if (!showErrors(errors)) {
    report('invalid', 'Not saved: fix the fields marked above.');
    return;
  }
  await saveSettings(settings);
  for (const field of FIELDS) form.elements[field].value = settings[field];
  report('saved', 'Saved.', ['Use "Test connection" to check them against the server.']);
});

document.getElementById('test').addEventListener('click', async () => {
  const { settings, errors } = validateSettings(readForm());
  if (!showErrors(errors)) {
    report('invalid', 'Cannot test: fix the fields marked above.');
    return;
  }
  report('testing', `Testing ${settings.server}…`);
  try {
    const lines = await testConnection(settings);
    report('ok', 'Connected.', lines);
  } catch (error) {
    if (!(error instanceof TactError)) {
      report('protocol', TITLES.protocol, [`The server answered in a way this extension does not understand (${error.message}). Is it a tact server of a matching version?`]);
      return;
    }
    report(error.kind, TITLES[error.kind] ?? 'The server refused the request.', [error.message]);
  }
});

const TITLES = {
  unreachable: 'Server unreachable.',
  cors: 'Blocked by CORS.',
  unauthorized: 'Bad token (401).',
  forbidden: 'Missing role or brand (403).',
  not_found: 'Not found.',
  protocol: 'Not a tact server.',
  server: 'Server error.',
  rejected: 'Refused.',
  queue_full: 'Server busy.',
  conflict: 'Conflict.',
};

/** Walks from the address to the brand and channel; throws a TactError at the first problem. */
async function testConnection(settings) {
  const client = new TactClient(settings);
  const me = await client.request('GET', '/api/v1/me');
  let detail;
  try {
    detail = await client.request('GET', `/api/v1/brands/${encodeURIComponent(settings.brand)}`);
  } catch (error) {
    if (error.kind === 'forbidden') {
      const scope = (me.brands ?? []).join(', ') || 'no brand';
      error.message = `The token "${me.label}" (${me.role}) may act for ${scope}, not for brand "${settings.brand}": ${error.message} Ask your tact admin for a token with that brand.`;
    } else if (error.kind === 'not_found') {
      const known = await client.request('GET', '/api/v1/brands').then((l) => (l.brands ?? []).map((b) => b.id).join(', '), () => '');
      error.message = `The server has no brand "${settings.brand}"${known ? ` (it has: ${known})` : ''}.`;
    }
    throw error;
  }
  // GET /brands/{id} is the brand's fields with its policy and guidelines beside them.
  const brand = detail.channels ? detail : detail.brand ?? {};
  const channels = (brand.channels ?? []).map((c) => c.id);
  if (!channels.includes(settings.channel)) {
    throw new TactError('not_found', `Brand "${settings.brand}" has no channel "${settings.channel}" (it has: ${channels.join(', ')}).`, { status: 404 });
  }
  const canApprove = me.role === 'approver' || me.role === 'admin';
  return [
    `Token "${me.label}" with role ${me.role}, for ${brand.name} (${settings.brand}) on ${settings.channel}.`,
    canApprove
      ? 'It can request drafts, submit them and approve them (as the brand\'s policy allows).'
      : 'It can request drafts and submit them for approval; approving needs an approver token.',
  ];
}

document.getElementById('origin').textContent = location.origin;

const saved = await loadSettings();
for (const field of FIELDS) form.elements[field].value = saved[field];
// The saved settings are in the form: typing from now on is not overwritten.
document.body.dataset.ready = 'true';
