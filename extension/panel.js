// The panel beside the page: renders the current draft session pushed by the service worker
// and turns clicks into its verbs. It holds no state of its own that matters: the selected text,
// the candidates and the edit live in the worker's session store, so closing the panel or a
// failed request loses nothing.

const CHECK_DELAY_MS = 400;
const $ = (id) => document.getElementById(id);

let view = null;
let checkTimer = null;
let renderedSessionId = null;
let retryTimer = null;

function current() {
  const state = view?.state;
  return state?.sessions.find((s) => s.id === state.currentId) ?? null;
}

async function send(verb, args = {}) {
  const session = current();
  const reply = await chrome.runtime.sendMessage({ type: 'verb', verb, id: session?.id, ...args });
  return reply ?? { ok: false, error: { kind: 'server', message: 'The extension did not answer; reload it.' } };
}

/** Runs a verb with its button disabled; errors arrive through the session's state. */
async function act(button, verb, args) {
  button.disabled = true;
  try {
    return await send(verb, args);
  } finally {
    button.disabled = false;
  }
}

// ---- rendering ----------------------------------------------------------------------------

const STAGE_TEXT = {
  requesting: 'Sending the selection to tact…',
  drafting: 'Drafting…',
  review: 'Pick a candidate, edit it if you like, then submit it for approval.',
  approved: 'Approved.',
  posted: 'Posted.',
  closed: 'Closed on the server.',
  failed: 'No drafts.',
};

function render() {
  const session = current();
  const configured = view?.configured;
  $('setup').hidden = configured !== false;
  $('empty').hidden = !configured || Boolean(session);
  $('session').hidden = !session;
  renderIdentity();
  renderHistory();
  if (!session) return;

  document.body.dataset.stage = session.stage;
  $('source').replaceChildren(sourceLine(session));
  $('selection').textContent = session.selection || '(no text selected)';
  renderError(session);
  $('notice').hidden = !session.notice;
  $('notice').textContent = session.notice ?? '';
  const status = session.status ? ` (server: ${session.status.replaceAll('_', ' ')})` : '';
  $('stage').textContent = `${STAGE_TEXT[session.stage] ?? session.stage}${status}`;
  renderCandidates(session);
  renderEditor(session);
  renderApproved(session);
  renderedSessionId = session.id;
}

function renderIdentity() {
  const me = view?.me;
  const settings = view?.settings;
  if (!me || me.error) {
    $('identity').textContent = settings?.brand ? `${settings.brand} · ${settings.channel}` : '';
    return;
  }
  $('identity').textContent = `${me.label} (${me.role}) · ${settings.brand} · ${settings.channel}`;
}

function renderHistory() {
  const sessions = view?.state?.sessions ?? [];
  const select = $('history');
  select.hidden = sessions.length < 2;
  select.replaceChildren(...sessions.map((s) => {
    const option = new Option(`${new Date(s.createdAt).toLocaleTimeString()} · ${truncate(s.selection || s.source.title, 40)}`, s.id);
    option.selected = s.id === view.state.currentId;
    return option;
  }));
}

function sourceLine(session) {
  const fragment = document.createDocumentFragment();
  fragment.append(`${session.brand} · ${session.channel} · from `);
  const link = document.createElement('a');
  link.href = session.source.url;
  link.target = '_blank';
  link.rel = 'noreferrer';
  link.textContent = session.source.title || session.source.url || 'a page';
  fragment.append(link);
  return fragment;
}

function renderError(session) {
  const error = session.error;
  $('error').hidden = !error;
  if (!error) return;
  $('error').dataset.kind = error.kind;
  $('error-message').textContent = error.message;
  const settingsProblem = ['unauthorized', 'forbidden', 'not_configured', 'cors'].includes(error.kind);
  $('error-options').hidden = !settingsProblem;
  $('retry').hidden = ['rejected', 'not_configured'].includes(error.kind);
  // A busy server said when to come back (Retry-After): Retry waits until then.
  const wait = error.retryAfter ? Math.ceil((error.at + error.retryAfter * 1000 - Date.now()) / 1000) : 0;
  $('retry').disabled = wait > 0;
  $('retry').textContent = wait > 0 ? `Retry in ${wait} s` : 'Retry';
  clearTimeout(retryTimer);
  if (wait > 0) retryTimer = setTimeout(render, 1000);
  // Before the server has the message, Retry is the only way on: keep the banner up.
  $('dismiss').hidden = !session.messageId;
}

function rankedCandidates(session) {
  const done = session.candidates.filter(Boolean);
  if (done.some((c) => c.streaming)) return done; // in generation order while streaming
  return [...done].sort((a, b) => (b.score?.total ?? 0) - (a.score?.total ?? 0));
}

function renderCandidates(session) {
  const list = $('candidates');
  const choosable = session.stage === 'review';
  list.replaceChildren(...rankedCandidates(session).map((c, rank) => {
    const item = document.createElement('li');
    item.className = 'candidate';
    item.dataset.index = c.index;
    item.dataset.rank = rank + 1;
    if (c.streaming) item.dataset.streaming = 'true';
    if (session.chosen === c.index) item.dataset.chosen = 'true';

    const head = document.createElement('div');
    head.className = 'candidate-head';
    head.append(`#${rank + 1}`);
    if (c.origin) head.append(badge(c.origin === 'adapted_past_reply' ? 'adapted past reply' : 'generated'));
    if (c.score?.total !== undefined) head.append(badge(`score ${c.score.total.toFixed(2)}`));
    item.append(head);

    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = c.text;
    item.append(text);

    if (c.citations?.length) {
      const cites = document.createElement('ul');
      cites.className = 'citations';
      cites.append(...c.citations.map((cite) => {
        const li = document.createElement('li');
        li.textContent = `${cite.kind === 'reply' ? 'past reply' : 'guideline'} ${cite.id}${cite.similarity !== undefined ? ` (${cite.similarity.toFixed(2)})` : ''}`;
        return li;
      }));
      item.append(cites);
    }
    item.append(violationList(c.violations ?? []));

    if (choosable) {
      const use = document.createElement('button');
      use.type = 'button';
      use.className = 'use';
      use.textContent = session.chosen === c.index ? 'Chosen' : 'Use this';
      use.disabled = session.chosen === c.index;
      use.addEventListener('click', () => act(use, 'choose', { candidate: c.index }));
      item.append(use);
    }
    return item;
  }));
}

function violationList(violations) {
  const list = document.createElement('ul');
  list.className = 'violations';
  list.append(...violations.map((v) => {
    const li = document.createElement('li');
    li.dataset.severity = v.severity;
    li.textContent = `${v.severity === 'block' ? 'Blocks' : 'Warning'}: ${v.message}${v.clause ? ` (${v.clause})` : ''}`;
    return li;
  }));
  return list;
}

function renderEditor(session) {
  const editing = session.stage === 'review' && session.chosen !== null;
  $('editor').hidden = !editing;
  if (!editing) return;
  const edit = $('edit');
  // Never overwrite what the user is typing; do take the worker's text for another session
  // or after "Use this".
  if (renderedSessionId !== session.id || (document.activeElement !== edit && edit.value !== session.editText)) {
    edit.value = session.editText ?? '';
  }
  const check = session.editCheck;
  const fresh = check && check.text === edit.value;
  $('edit-status').textContent = !check ? '' : fresh
    ? check.violations.length ? `${check.violations.length} issue(s), ${check.blocks} blocking.` : 'No guideline issues.'
    : 'Checking…';
  $('edit-violations').replaceWith(Object.assign(violationList(fresh ? check.violations : []), { id: 'edit-violations' }));

  const canApprove = ['approver', 'admin'].includes(view?.me?.role);
  const blocks = fresh ? check.blocks : 0;
  $('approve').hidden = !canApprove;
  $('override').hidden = $('override-label').hidden = !(canApprove && blocks > 0);
  const submitted = session.submittedText !== null && session.submittedText === edit.value;
  $('submit').textContent = submitted ? 'Submitted' : 'Submit for approval';
  $('submit').disabled = submitted || !edit.value.trim();
  $('approve').disabled = !edit.value.trim();
}

function renderApproved(session) {
  const released = session.stage === 'approved' || session.stage === 'posted';
  $('approved').hidden = !released;
  $('final-text').textContent = released ? session.finalText ?? '' : '';
}

function badge(text) {
  const span = document.createElement('span');
  span.className = 'badge';
  span.textContent = text;
  return span;
}

function truncate(text, n) {
  return text.length > n ? `${text.slice(0, n - 1)}…` : text;
}

// ---- actions --------------------------------------------------------------------------------

$('edit').addEventListener('input', () => {
  const text = $('edit').value;
  send('edit', { text });
  clearTimeout(checkTimer);
  checkTimer = setTimeout(() => send('check'), CHECK_DELAY_MS);
  render();
});

$('submit').addEventListener('click', async () => {
  await send('edit', { text: $('edit').value });
  await act($('submit'), 'submit');
});

$('approve').addEventListener('click', async () => {
  await send('edit', { text: $('edit').value });
  await act($('approve'), 'approve', { overrideReason: $('override').value });
});

$('insert').addEventListener('click', () => act($('insert'), 'insert'));

$('copy').addEventListener('click', async () => {
  const reply = await act($('copy'), 'release');
  if (!reply.ok) return;
  try {
    await navigator.clipboard.writeText(reply.text);
  } catch (error) {
    $('notice').hidden = false;
    $('notice').textContent = `Copying failed (${error.message}); select the approved text above and copy it by hand.`;
    return;
  }
  await send('copied');
});

$('retry').addEventListener('click', () => act($('retry'), 'retry'));
$('dismiss').addEventListener('click', () => send('dismiss'));
for (const button of document.querySelectorAll('[data-verb="openOptions"]')) {
  button.addEventListener('click', () => send('openOptions'));
}
$('history').addEventListener('change', (event) => send('select', { id: event.target.value }));

// ---- the live connection to the worker -------------------------------------------------------

function connect() {
  const port = chrome.runtime.connect({ name: 'panel' });
  port.onMessage.addListener((message) => {
    if (message.type !== 'state') return;
    view = message;
    render();
    document.body.dataset.ready = 'true';
  });
  // The worker was stopped (idle, or the extension reloaded): reconnect, which restarts it.
  port.onDisconnect.addListener(() => setTimeout(connect, 250));
}

connect();
