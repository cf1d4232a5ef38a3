// One message under review: the inbound text and its triage, the candidates side by side, an
// editor re-checked against the guidelines as you type, approve / reject / escalate, live
// drafting over server-sent events and the audit trail.
import { ApiError, events, get, post, seg } from './api.js';
import { brandName, crisisBanner, showError, signedIn } from './layout.js';
import { byId, debounce, h, shortcuts, statusBadge, time, toast, words } from './dom.js';
import { diff, highlighted, violationList } from './highlight.js';

const CHECK_DELAY_MS = 300;
const DELIVERY_POLL_MS = 2000;
const ROLES = ['agent', 'approver', 'admin'];

const id = decodeURIComponent(location.pathname.replace(/^\/messages\//, ''));
const el = Object.fromEntries([
  'message', 'load-error', 'inbound-author', 'inbound-meta', 'inbound-text', 'triage', 'state',
  'drafting-status', 'candidates', 'review-form', 'editor', 'editor-label', 'check-status',
  'check-preview', 'check-violations', 'override', 'override-reason', 'approve', 'propose', 'reject',
  'escalate', 'mark-posted', 'action-error', 'audit', 'reason-dialog', 'reason-form',
  'reason-heading', 'reason-label', 'reason', 'reason-error', 'reason-confirm', 'reason-cancel',
].map((name) => [name, byId(name)]));

let me = null;
let brands = [];
let detail = null;
let chosen = 0;
/** The latest check of the editor's text: { text, violations, blocks }. */
let checked = null;
let checking = null;
let checkSeq = 0;
let checkAbort = null;
let streaming = false;
let deliveryTimer = null;

const label = (v) => (v && typeof v === 'object' ? v.label ?? v.value ?? '' : v ?? '');
const reviewable = () => detail?.status === 'awaiting_review';
const may = (role) => ROLES.indexOf(me?.role) >= ROLES.indexOf(role);

function originOf(candidate) {
  const origin = candidate.origin;
  const kind = typeof origin === 'string' ? origin : origin?.kind;
  return kind === 'adapted_past_reply' ? 'Adapted past reply' : kind === 'generated' ? 'Generated' : words(kind ?? 'unknown origin');
}

// ---- rendering --------------------------------------------------------------------------

function renderInbound() {
  el['inbound-author'].textContent = detail.author;
  el['inbound-meta'].replaceChildren(
    `${brandName(brands, detail.brand)} · ${detail.channel} · received `, time(detail.received_at), ' · ',
    statusBadge(detail.status), ` · version ${detail.version}`);
  el['inbound-text'].textContent = detail.text;
  const t = detail.triage;
  const rows = t ? [
    ['Sentiment', label(t.sentiment)], ['Intent', words(label(t.intent))], ['Urgency', label(t.urgency)],
    ['Language', label(t.language)], ['Toxic', t.toxic ? 'yes' : 'no'],
    ['Escalate', (t.escalation ?? []).map(words).join(', ') || 'no'],
  ] : [['Triage', 'not yet available']];
  el.triage.replaceChildren(...rows.map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: v || '–' }))));
}

function renderState() {
  const needed = detail.approvals_needed ?? 1;
  const approvedBy = detail.proposal?.approved_by ?? [];
  const manual = detail.delivery?.connector === 'manual';
  const headline = {
    received: 'Waiting to be drafted…',
    drafting: 'Drafting replies…',
    awaiting_review: needed > 1 ? `Awaiting review: ${approvedBy.length} of ${needed} approvals.` : 'Awaiting review.',
    approved: manual ? 'Approved. Post the reply, then mark it posted.' : 'Approved. Delivering…',
    sent: manual ? 'Sent (posted by hand).' : 'Sent.',
    rejected: 'Rejected.',
    escalated: 'Escalated to a person.',
    failed: 'Failed.',
  }[detail.status] ?? words(detail.status);
  const details = [];
  if (detail.proposal && detail.status === 'awaiting_review') {
    const by = detail.proposal.edited_by;
    details.push(`Candidate ${detail.proposal.candidate + 1}${by ? `, edited by ${by},` : ''} is up for approval.`);
  }
  if (approvedBy.length && detail.status === 'awaiting_review') details.push(`Approved so far by ${approvedBy.join(', ')}.`);
  if (detail.reason) details.push(`Reason: ${detail.reason}`);
  if (detail.delivery) {
    const d = detail.delivery;
    details.push(`Delivery: ${d.connector}, ${words(d.status)}${d.attempts > 1 ? ` after ${d.attempts} attempts` : ''}.`);
    if (d.last_error) details.push(`Last error: ${d.last_error}`);
  }
  el.state.replaceChildren(h('strong', { text: headline }), ...details.map((p) => ` ${p}`));
  if (detail.final_text) el.state.append(' ', h('span', { class: 'final-text' }, 'Final text: ', h('q', { text: detail.final_text })));
}

function candidateCard(c) {
  const index = c.index;
  const violations = c.violations ?? [];
  const citations = c.citations ?? [];
  const heading = `candidate-${index}-heading`;
  const parts = Object.entries(c.score?.parts ?? {});
  const origin = typeof c.origin === 'object' ? c.origin : null;
  return h('article', { class: `candidate${index === chosen ? ' chosen' : ''}`, 'aria-labelledby': heading, dataset: { index } },
    h('header', { class: 'candidate-head' },
      h('h3', { id: heading, text: `Candidate ${index + 1}` }),
      h('span', { class: `origin origin-${originOf(c) === 'Adapted past reply' ? 'adapted' : 'generated'}`, text: originOf(c) }),
      typeof c.score?.total === 'number' ? h('span', { class: 'score', text: `score ${c.score.total.toFixed(2)}` }) : null),
    h('p', { class: 'candidate-text' }, highlighted(c.text, violations)),
    violations.length
      ? violationList(h('ul', { class: 'violations', 'aria-label': `Guideline violations in candidate ${index + 1}` }), violations)
      : h('p', { class: 'clean', text: 'No guideline violations.' }),
    h('details', { class: 'citations' },
      h('summary', { text: `Citations (${citations.length})` }),
      citations.length
        ? h('ul', {}, citations.map((cit) => h('li', {},
          h('span', { class: 'citation-kind', text: cit.kind === 'reply' ? 'Past reply' : cit.kind === 'guideline' ? 'Guideline' : words(cit.kind ?? 'source') }),
          ' ', h('code', { text: cit.id }),
          typeof cit.similarity === 'number' ? ` (similarity ${cit.similarity.toFixed(2)})` : '')))
        : h('p', { text: 'This candidate cites nothing.' })),
    parts.length || origin?.adaptations?.length ? h('details', { class: 'score-parts' },
      h('summary', { text: 'Why this score' }),
      parts.length ? h('dl', {}, parts.flatMap(([k, v]) => [h('dt', { text: words(k) }), h('dd', { text: typeof v === 'number' ? v.toFixed(3) : JSON.stringify(v) })])) : null,
      origin?.adaptations?.length ? h('ul', { 'aria-label': 'Adaptations' }, origin.adaptations.map((a) => h('li', { text: a }))) : null) : null,
    h('button', {
      type: 'button', class: 'use-candidate', 'aria-pressed': String(index === chosen),
      disabled: !reviewable(), onclick: () => choose(index, { focus: true }),
    }, index === chosen ? 'In the editor' : 'Use this candidate'));
}

function renderCandidates() {
  const candidates = detail.candidates ?? [];
  el.candidates.replaceChildren(...candidates.map(candidateCard));
  if (!streaming) {
    el['drafting-status'].textContent = candidates.length ? `${candidates.length} candidates, best first.` : 'No candidates yet.';
  }
}

function renderActions() {
  const open = reviewable();
  const approver = may('approver');
  el.editor.readOnly = !open;
  el.approve.disabled = !open || !approver;
  el.reject.disabled = !open || !approver;
  el.escalate.disabled = !open;
  el.propose.disabled = !open;
  el.approve.title = approver ? '' : 'Approving needs an approver token.';
  el.reject.title = el.approve.title;
  el['mark-posted'].hidden = !(detail.status === 'approved' && detail.delivery?.connector === 'manual');
}

function render() {
  document.title = `${detail.author}: review · tact`;
  renderInbound();
  renderState();
  if (!streaming) renderCandidates();
  renderActions();
  el.message.hidden = false;
}

// ---- the editor and its checks ------------------------------------------------------------

function currentCandidate() {
  return detail?.candidates?.find((c) => c.index === chosen) ?? detail?.candidates?.[0];
}

function choose(index, { focus = false, text } = {}) {
  const candidate = detail.candidates.find((c) => c.index === index);
  if (!candidate) return;
  chosen = index;
  el.editor.value = text ?? candidate.text;
  updateEditorLabel();
  for (const card of el.candidates.querySelectorAll('.candidate')) {
    const on = Number(card.dataset.index) === index;
    card.classList.toggle('chosen', on);
    const button = card.querySelector('.use-candidate');
    button.setAttribute('aria-pressed', String(on));
    button.textContent = on ? 'In the editor' : 'Use this candidate';
  }
  if (el.editor.value === candidate.text) {
    showCheck({ text: candidate.text, violations: candidate.violations ?? [], blocks: blocksIn(candidate.violations) });
  }
  runCheck();
  if (focus) el.editor.focus();
}

function updateEditorLabel() {
  const candidate = currentCandidate();
  const edited = candidate && el.editor.value !== candidate.text;
  el['editor-label'].textContent = candidate
    ? `Reply text (candidate ${candidate.index + 1}${edited ? ', edited' : ''})`
    : 'Reply text';
}

const blocksIn = (violations) => (violations ?? []).filter((v) => v.severity === 'block').length;

function showCheck(result) {
  checked = result;
  const { text, violations, blocks } = result;
  el['check-preview'].replaceChildren(highlighted(text, violations));
  violationList(el['check-violations'], violations);
  el['check-violations'].removeAttribute('aria-busy');
  el['check-status'].textContent = text.trim() === ''
    ? 'The reply is empty.'
    : violations.length === 0
      ? 'No guideline violations.'
      : `${violations.length} ${violations.length === 1 ? 'violation' : 'violations'}${blocks ? `, ${blocks} blocking approval` : ''}.`;
  el['check-status'].dataset.state = violations.length === 0 ? 'clean' : blocks ? 'block' : 'warn';
  el.override.hidden = !(blocks > 0 && reviewable());
}

/** Checks the editor's text now; resolves when the answer is shown (or superseded). */
function runCheck() {
  const text = el.editor.value;
  const seq = ++checkSeq;
  checkAbort?.abort();
  const abort = new AbortController();
  checkAbort = abort;
  el['check-status'].textContent = 'Checking…';
  el['check-status'].dataset.state = 'checking';
  checking = post('/check', { brand: detail.brand, channel: detail.channel, message_id: detail.id, text }, { signal: abort.signal })
    .then((result) => {
      if (seq !== checkSeq) return;
      showCheck({ text, violations: result.violations ?? [], blocks: result.blocks ?? blocksIn(result.violations) });
    })
    .catch((err) => {
      if (err.name === 'AbortError' || seq !== checkSeq) return;
      showError(el['check-status'], err, 'check the reply');
      el['check-status'].dataset.state = 'error';
    });
  return checking;
}

const checkSoon = debounce(runCheck, CHECK_DELAY_MS);

/** The check of exactly the editor's current text. */
async function upToDateCheck() {
  checkSoon.flush();
  if (!checked || checked.text !== el.editor.value) await runCheck();
  else await checking;
  return checked?.text === el.editor.value ? checked : null;
}

// ---- actions ----------------------------------------------------------------------------

async function act(verb, body, doing) {
  el['action-error'].textContent = '';
  try {
    detail = await post(`/messages/${seg(id)}/${verb}`, { version: detail.version, ...body });
    render();
    loadAudit();
    watchDelivery();
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.code === 'conflict') {
      const kept = el.editor.value;
      await reload();
      if (reviewable()) { el.editor.value = kept; updateEditorLabel(); runCheck(); }
      el['action-error'].textContent = `Someone else changed this message while you were reviewing it; it now shows version ${detail.version} (${words(detail.status)}). ${reviewable() ? 'Your text is kept: check it and try again.' : ''}`;
    } else {
      showError(el['action-error'], err, doing);
    }
    return false;
  }
}

async function approve() {
  if (el.approve.disabled) return;
  el.approve.disabled = true;
  el['action-error'].textContent = '';
  try {
    const text = el.editor.value;
    if (text.trim() === '') {
      el['action-error'].textContent = 'The reply is empty: write or choose one before approving.';
      el.editor.focus();
      return;
    }
    const result = await upToDateCheck();
    if (!result) {
      el['action-error'].textContent = 'The guideline check of this text did not finish; approve again.';
      return;
    }
    const override = el['override-reason'].value.trim();
    if (result.blocks > 0 && !override) {
      el['action-error'].textContent = `${result.blocks} block-level ${result.blocks === 1 ? 'violation remains' : 'violations remain'}: fix the text, or give an override reason.`;
      el['override-reason'].focus();
      return;
    }
    const body = { ...choice(text) };
    if (result.blocks > 0) body.override_reason = override;
    if (await act('approve', body, 'approve the reply')) {
      toast(detail.status === 'awaiting_review' ? 'Approval recorded; more approvals are needed.' : 'Approved.');
    }
  } finally {
    renderActions();
  }
}

/**
 * What the editor holds, as the API wants it: the candidate, plus the text when it is an edit.
 * The text already up for approval is approved as it is, so a second approver does not become
 * its editor.
 */
function choice(text) {
  const candidate = currentCandidate();
  const proposal = detail.proposal;
  // Without a text the server takes the proposal for this candidate when there is one, else
  // the candidate as drafted.
  const implied = proposal?.candidate === candidate.index ? proposal.text : candidate.text;
  return text === implied ? { candidate: candidate.index } : { candidate: candidate.index, text };
}

/** Puts the editor's text forward for someone else to approve. */
async function propose() {
  if (el.propose.disabled) return;
  el['action-error'].textContent = '';
  const text = el.editor.value;
  if (text.trim() === '') {
    el['action-error'].textContent = 'The reply is empty: write or choose one before proposing it.';
    el.editor.focus();
    return;
  }
  el.propose.disabled = true;
  try {
    if (await act('propose', choice(text), 'propose the reply')) toast('Proposed for approval.');
  } finally {
    renderActions();
  }
}

const REASONS = {
  reject: { title: 'Reject this message', prompt: 'Why are you rejecting it?', button: 'Reject', done: 'Rejected.' },
  escalate: { title: 'Escalate to a person', prompt: 'What should they know?', button: 'Escalate', done: 'Escalated.' },
};
let reasonFor = null;

function askReason(verb) {
  if ((verb === 'reject' ? el.reject : el.escalate).disabled) return;
  reasonFor = verb;
  const words_ = REASONS[verb];
  el['reason-heading'].textContent = words_.title;
  el['reason-label'].textContent = words_.prompt;
  el['reason-confirm'].textContent = words_.button;
  el['reason-error'].textContent = '';
  el.reason.value = '';
  el['reason-dialog'].showModal();
  el.reason.focus();
}

el['reason-form'].addEventListener('submit', async (event) => {
  event.preventDefault();
  const reason = el.reason.value.trim();
  if (!reason) {
    el['reason-error'].textContent = 'A reason is required.';
    el.reason.setAttribute('aria-invalid', 'true');
    el.reason.focus();
    return;
  }
  el.reason.removeAttribute('aria-invalid');
  el['reason-confirm'].disabled = true;
  const verb = reasonFor;
  try {
    if (await act(verb, { reason }, `${verb} the message`)) {
      el['reason-dialog'].close();
      toast(REASONS[verb].done);
    } else {
      el['reason-error'].textContent = el['action-error'].textContent;
    }
  } finally {
    el['reason-confirm'].disabled = false;
  }
});
el['reason-cancel'].addEventListener('click', () => el['reason-dialog'].close());

// ---- loading, live drafting, delivery -----------------------------------------------------

async function reload() {
  detail = await get(`/messages/${seg(id)}`);
  render();
}

function adoptCandidates() {
  if (!detail.candidates?.length) return;
  // A text already up for approval (someone's edit, with approvals pending) is what a further
  // approval must agree to: start from it rather than from a fresh candidate.
  const proposal = detail.proposal;
  if (proposal && detail.candidates.some((c) => c.index === proposal.candidate)) chosen = proposal.candidate;
  if (!detail.candidates.some((c) => c.index === chosen)) chosen = detail.candidates[0].index;
  renderCandidates();
  if (reviewable()) choose(chosen, { text: proposal?.candidate === chosen ? proposal.text : undefined });
  else {
    el.editor.value = detail.final_text ?? currentCandidate()?.text ?? '';
    updateEditorLabel();
    showCheck({ text: el.editor.value, violations: [], blocks: 0 });
    el['check-status'].textContent = '';
  }
}

/** Shows candidates as they are generated, until the drafts are ready. */
async function followDrafting() {
  streaming = true;
  const live = new Map();
  el['drafting-status'].textContent = 'Drafting replies…';
  el.candidates.replaceChildren();
  const card = (index) => {
    if (!live.has(index)) {
      const text = h('p', { class: 'candidate-text' });
      const node = h('article', { class: 'candidate drafting', 'aria-busy': 'true', dataset: { index } },
        h('header', { class: 'candidate-head' }, h('h3', { text: `Candidate ${index + 1}` }), h('span', { class: 'origin', text: 'drafting…' })), text);
      live.set(index, { node, text });
      el.candidates.append(node);
    }
    return live.get(index);
  };
  let ready = false;
  try {
    await events(`/messages/${seg(id)}/events`, (name, data) => {
      if (name === 'delta') card(data.candidate).text.append(data.text);
      else if (name === 'candidate') {
        const old = card(data.index).node;
        const full = candidateCard(data);
        old.replaceWith(full);
        live.set(data.index, { node: full, text: full.querySelector('.candidate-text') });
        el['drafting-status'].textContent = `Candidate ${data.index + 1} drafted.`;
      } else if (name === 'ready') {
        ready = true;
        streaming = false;
        detail = data;
        render();
        adoptCandidates();
        loadAudit();
      } else if (name === 'error') {
        el['drafting-status'].textContent = `Drafting failed: ${data?.error?.message ?? data}`;
      }
    });
  } catch (err) {
    showError(el['drafting-status'], err, 'follow the drafting');
  } finally {
    streaming = false;
  }
  if (!ready) {
    await reload();
    if (['received', 'drafting'].includes(detail.status)) setTimeout(followDrafting, DELIVERY_POLL_MS);
    else { adoptCandidates(); loadAudit(); }
  }
}

/** After a webhook approval, follows the message until it is sent or fails. */
function watchDelivery() {
  clearTimeout(deliveryTimer);
  if (detail.status !== 'approved' || detail.delivery?.connector === 'manual') return;
  deliveryTimer = setTimeout(async () => {
    try {
      const before = detail.status;
      await reload();
      if (detail.status !== before) { loadAudit(); toast(`Message ${words(detail.status)}.`); }
      watchDelivery();
    } catch (err) {
      showError(el['action-error'], err, 'refresh the delivery status');
    }
  }, DELIVERY_POLL_MS);
}

async function loadAudit() {
  try {
    const { entries } = await get(`/messages/${seg(id)}/audit`);
    el.audit.replaceChildren(...entries.map((e) => h('li', { class: 'audit-entry' },
      h('p', {}, time(e.at), ' ', h('strong', { text: e.actor }), ` ${words(e.action)}`,
        e.from ? ` (${words(e.from)} → ${words(e.to)})` : e.to ? ` (→ ${words(e.to)})` : ''),
      e.note ? h('p', { class: 'note', text: e.note }) : null,
      e.diff ? h('details', {}, h('summary', { text: 'Changes to the draft' }), h('p', { class: 'diff' }, diff(e.diff)))
        : e.final_text ? h('details', {}, h('summary', { text: 'Text' }), h('p', { class: 'diff', text: e.final_text })) : null)));
  } catch (err) {
    el.audit.replaceChildren(h('li', { class: 'error', text: `Could not load the audit trail: ${err.message}` }));
  }
}

// ---- wiring -----------------------------------------------------------------------------

el.editor.addEventListener('input', () => {
  updateEditorLabel();
  // The old highlights belong to the old text: show the new text plain until its check is in.
  el['check-preview'].replaceChildren(el.editor.value);
  el['check-violations'].setAttribute('aria-busy', 'true');
  el['check-status'].textContent = 'Checking…';
  el['check-status'].dataset.state = 'checking';
  checkSoon();
});
el['review-form'].addEventListener('submit', (event) => { event.preventDefault(); approve(); });
el.propose.addEventListener('click', propose);
el.reject.addEventListener('click', () => askReason('reject'));
el.escalate.addEventListener('click', () => askReason('escalate'));
el['mark-posted'].addEventListener('click', async () => {
  el['mark-posted'].disabled = true;
  if (await act('posted', {}, 'mark the reply posted')) toast('Marked posted.');
  el['mark-posted'].disabled = false;
});

function step(delta) {
  const candidates = detail?.candidates ?? [];
  if (!reviewable() || candidates.length === 0) return;
  const at = candidates.findIndex((c) => c.index === chosen);
  const next = candidates[Math.min(candidates.length - 1, Math.max(0, at + delta))];
  choose(next.index);
  el.candidates.querySelector(`.candidate[data-index="${next.index}"] .use-candidate`)?.focus();
}

shortcuts({
  a: () => approve(),
  e: () => { if (!el.editor.readOnly) el.editor.focus(); },
  r: () => askReason('reject'),
  j: () => step(1),
  k: () => step(-1),
});

async function main() {
  me = await signedIn();
  ({ brands } = await get('/brands'));
  try {
    await reload();
  } catch (err) {
    showError(el['load-error'], err, `open message ${id}`);
    return;
  }
  crisisBanner(brands.filter((b) => b.id === detail.brand));
  loadAudit();
  if (['received', 'drafting'].includes(detail.status)) followDrafting();
  else {
    adoptCandidates();
    watchDelivery();
  }
}

main().catch((err) => showError(el['load-error'], err, 'open this page'));
