// What the panel may ask of the service worker. Each verb acts on one draft session and
// records its outcome there; an error is also stored on the session, for the panel to show.
import { TactError } from './api.js';
import { applyDetail, connect, follow, refresh, submitDraft } from './drafting.js';
import * as sessions from './sessions.js';
import { Stage } from './sessions.js';

/** Statuses whose final text may leave the extension (into a page or the clipboard). */
const RELEASED = new Set(['approved', 'sent']);

export const verbs = {
  async select({ id }) {
    await sessions.select(id);
  },

  async choose({ id, candidate }) {
    await sessions.update(id, (s) => {
      const c = s.candidates.find((x) => x.index === candidate);
      if (!c) throw new TactError('rejected', `There is no candidate ${candidate}.`);
      s.chosen = candidate;
      s.editText = c.text;
      s.editCheck = { text: c.text, violations: c.violations ?? [], blocks: (c.violations ?? []).filter((v) => v.severity === 'block').length };
    });
  },

  async edit({ id, text }) {
    await sessions.update(id, (s) => {
      s.editText = text;
    });
  },

  /** Re-runs the brand's guideline checks on the edit (the panel calls this as the user types). */
  async check({ id }) {
    const session = await sessions.get(id);
    const text = session.editText ?? '';
    const client = await connect();
    const result = await client.request('POST', '/api/v1/check', { brand: session.brand, channel: session.channel, text });
    await sessions.update(id, (s) => {
      // An answer for text the user has typed past is stale.
      if (s.editText === text) s.editCheck = { text, violations: result.violations ?? [], blocks: result.blocks ?? 0 };
    });
  },

  async submit({ id }) {
    const session = await sessions.get(id);
    const text = session.editText;
    const client = await connect();
    let detail;
    try {
      detail = await client.request('POST', `/api/v1/messages/${encodeURIComponent(session.messageId)}/propose`, {
        version: session.version,
        candidate: session.chosen,
        text,
      });
    } catch (error) {
      // A server from before the extension's submit route answers its catch-all 404.
      if (error instanceof TactError && error.kind === 'not_found' && (!error.code || /no such route/i.test(error.message))) {
        throw new TactError('rejected', 'This tact server cannot take a reply for approval from the extension (it has no /propose route): update it, or approve the reply in the web queue.', { status: 404 });
      }
      throw error;
    }
    await sessions.update(id, (s) => {
      applyDetail(s, detail);
      s.submittedText = text;
      s.notice = 'Submitted for approval: it is in the team\'s review queue.';
    });
  },

  async approve({ id, overrideReason }) {
    const session = await sessions.get(id);
    const client = await connect();
    const body = { version: session.version, candidate: session.chosen };
    // Approving what someone else submitted must not send the text back: the server would
    // count it as this approver's own edit, which the brand's policy may not let them approve.
    if (session.submittedText === null || session.submittedText !== session.editText) body.text = session.editText;
    if (overrideReason?.trim()) body.override_reason = overrideReason.trim();
    const detail = await client.request('POST', `/api/v1/messages/${encodeURIComponent(session.messageId)}/approve`, body);
    await sessions.update(id, (s) => {
      applyDetail(s, detail);
      s.submittedText = s.editText;
      s.notice = s.stage === Stage.Approved
        ? 'Approved. Insert it into the page or copy it.'
        : `Your approval is recorded; ${Math.max(0, (s.approvalsNeeded ?? 1) - s.approvals)} more needed.`;
    });
  },

  /** Puts the server's approved text into the page's reply box, then marks it posted. */
  async insert({ id }) {
    const { session, text } = await releasedText(id);
    const inserted = await insertIntoTab(session.source.tabId, text);
    if (!inserted.ok) throw new TactError('blocked', inserted.reason);
    await markPosted(id, 'Inserted into the page');
  },

  /** Hands the panel the approved text to copy; `copied` then marks it posted. */
  async release({ id }) {
    const { text } = await releasedText(id);
    return { text };
  },

  async copied({ id }) {
    await markPosted(id, 'Copied');
  },

  async retry({ id }) {
    const session = await sessions.get(id);
    if (!session.messageId) await submitDraft(id);
    else if (session.stage === Stage.Drafting) await follow(id);
    else await refresh(id);
  },

  async dismiss({ id }) {
    await sessions.update(id, (s) => {
      s.error = null;
      s.notice = null;
    });
  },

  async openOptions() {
    await chrome.runtime.openOptionsPage();
  },
};

/** The final text, read back from the server: only an approved reply leaves the extension. */
async function releasedText(id) {
  const session = await sessions.get(id);
  if (!session?.messageId) throw new TactError('rejected', 'Only approved text can be inserted or copied: this draft has not reached the server yet.');
  const detail = await refresh(id);
  if (!RELEASED.has(detail.status) || !detail.final_text) {
    throw new TactError('rejected', `Only approved text can be inserted or copied: this reply is ${detail.status.replaceAll('_', ' ')}.`);
  }
  return { session: await sessions.get(id), text: detail.final_text };
}

async function markPosted(id, what) {
  const session = await sessions.get(id);
  if (session.status === 'sent') {
    await sessions.update(id, (s) => {
      s.notice = `${what}; it was already marked posted.`;
    });
    return;
  }
  const client = await connect();
  try {
    const detail = await client.request('POST', `/api/v1/messages/${encodeURIComponent(session.messageId)}/posted`, { version: session.version });
    await sessions.update(id, (s) => {
      applyDetail(s, detail);
      s.notice = `${what} and marked posted.`;
    });
  } catch (error) {
    if (error instanceof TactError) {
      error.message = `${what}, but marking it posted failed: ${error.message} Use "Retry" once the server answers.`;
    }
    throw error;
  }
}

async function insertIntoTab(tabId, text) {
  const message = { type: 'insert', text };
  try {
    return await chrome.tabs.sendMessage(tabId, message);
  } catch {
    // The content script is not in this tab (it predates the install, or the page was
    // reloaded into one that forbids extensions): inject it once and ask again.
  }
  try {
    await chrome.scripting.executeScript({ target: { tabId }, files: ['content.js'] });
    return await chrome.tabs.sendMessage(tabId, message);
  } catch (error) {
    const gone = /No tab with id/i.test(error?.message ?? '');
    return {
      ok: false,
      reason: gone
        ? 'The page you drafted from is closed. Use "Copy" and paste the reply where it belongs.'
        : 'This page does not let extensions insert text (the browser forbids scripts on it). Use "Copy" and paste the reply yourself.',
    };
  }
}
