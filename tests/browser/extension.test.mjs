// The browser extension (extension/) in Debian's Chromium: the unpacked extension loaded into a
// persistent profile, a local forum-like page with comments and a reply box, and a real
// `tact serve --demo` on a free port. The panel is driven in a tab (panel.html is the same page
// the side panel shows; Playwright cannot drive the side panel itself), after checking that the
// selection button opened the side panel.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { chromium } from 'playwright-core';

import { api, artifactPath, chromiumPath, repoRoot, startServer, tactBin } from './lib.mjs';

const EXTENSION_DIR = path.join(repoRoot, 'extension');
const FIXTURES = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures');
const CHROMIUM = chromiumPath();
const SKIP = CHROMIUM ? false : 'SKIPPED: no Chromium found (install Debian\'s chromium or set TACT_CHROMIUM)';
if (SKIP) console.log(`extension tests ${SKIP}`);
const SKIP_SERVER = SKIP || (tactBin() ? false : 'SKIPPED: tact binary not found (set TACT_BIN or build with cargo first)');
if (SKIP_SERVER && !SKIP) console.log(`extension tests with tact serve ${SKIP_SERVER}`);

/** Chrome derives an unpacked extension's id from the manifest's `key`: sha256, a-p digits. */
function extensionIdFromKey(dir) {
  const { key } = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const digest = createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 32);
  return [...digest].map((c) => String.fromCharCode(97 + Number.parseInt(c, 16))).join('');
}
const EXTENSION_ID = extensionIdFromKey(EXTENSION_DIR);
const EXTENSION_ORIGIN = `chrome-extension://${EXTENSION_ID}`;

// ---- harness --------------------------------------------------------------------------------

/** Launches Chromium with `dir` as the only extension; resolves once its worker runs. */
async function launch(dir = EXTENSION_DIR) {
  const profile = mkdtempSync(path.join(tmpdir(), 'tact-ext-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: false,
    args: ['--headless=new', `--disable-extensions-except=${dir}`, `--load-extension=${dir}`, '--no-first-run'],
    viewport: { width: 1000, height: 800 },
  });
  let [worker] = context.serviceWorkers();
  worker ??= await context.waitForEvent('serviceworker');
  const id = new URL(worker.url()).host;
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, worker, id, close };
}

/** Serves tests/browser/fixtures on a free port. */
async function servePages() {
  const server = http.createServer((req, res) => {
    const name = path.basename(new URL(req.url, 'http://x').pathname) || 'thread.html';
    try {
      const body = readFileSync(path.join(FIXTURES, name === '/' ? 'thread.html' : name));
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () => new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections(); // the browser keeps connections alive
  });
  return { url: `http://127.0.0.1:${server.address().port}`, close };
}

/** A TACT_HOME of its own (the embedded store is one process's) sharing the model cache. */
function homeSharingModels() {
  const shared = process.env.TACT_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'tact');
  const home = mkdtempSync(path.join(tmpdir(), 'tact-ext-server-'));
  symlinkSync(path.join(shared, 'models'), path.join(home, 'models'));
  return home;
}

/** A port nothing listens on. */
async function deadPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

async function openOptions(context, id) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${id}/options.html`);
  // The page fills the form from storage once loaded; filling it before then would be undone.
  await page.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  return page;
}

async function fillOptions(page, { server, token, brand = 'northwind', channel = 'x' }) {
  await page.fill('#server', server);
  await page.fill('#token', token);
  await page.fill('#brand', brand);
  await page.fill('#channel', channel);
}

/** Clicks a button of the options page and returns the outcome it reports. */
async function optionsOutcome(page, button) {
  await page.click(button);
  const result = page.locator('#result:not([data-outcome="testing"])');
  await result.waitFor({ state: 'visible' });
  return { outcome: await result.getAttribute('data-outcome'), text: await result.textContent() };
}

async function saveSettings(context, id, settings) {
  const page = await openOptions(context, id);
  await fillOptions(page, settings);
  const { outcome, text } = await optionsOutcome(page, '#save');
  assert.equal(outcome, 'saved', text);
  await page.close();
}

async function openPanel(context, id) {
  const panel = await context.newPage();
  await panel.setViewportSize({ width: 420, height: 1000 });
  await panel.goto(`chrome-extension://${id}/panel.html`);
  await panel.locator('body[data-ready="true"]').waitFor({ state: 'attached' });
  return panel;
}

/** Selects a comment like a user (triple click) and clicks the button the extension shows. */
async function draftFromSelection(page, selector) {
  await page.click(selector, { clickCount: 3 });
  const host = page.locator('tact-draft-button[data-tact-visible="true"]');
  await host.waitFor({ state: 'attached' });
  // The button lives in a closed shadow root: click where it is drawn.
  const box = await host.boundingBox();
  assert.ok(box && box.width > 0, 'the selection button is drawn next to the selection');
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
}

async function stage(panel, name, timeout = 180_000) {
  await panel.locator(`body[data-stage="${name}"]`).waitFor({ state: 'attached', timeout });
}

async function panelError(panel) {
  const banner = panel.locator('#error:not([hidden])');
  await banner.waitFor({ state: 'visible', timeout: 30_000 });
  return { kind: await banner.getAttribute('data-kind'), text: await panel.textContent('#error-message') };
}

/** Runs a panel verb as the panel does, to reach the service worker's guards directly. */
function panelVerb(panel, verb, args = {}) {
  return panel.evaluate(async ([v, a]) => {
    const { tact } = await chrome.storage.session.get('tact');
    return chrome.runtime.sendMessage({ type: 'verb', verb: v, id: tact.currentId, ...a });
  }, [verb, args]);
}

// ---- tests without a tact server -------------------------------------------------------------

describe('extension without a server', { skip: SKIP }, () => {
  let browser;
  before(async () => {
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
  });

  test('the manifest key gives the extension a stable id, shown for server.cors_origins', async () => {
    assert.equal(browser.id, EXTENSION_ID);
    const page = await openOptions(browser.context, browser.id);
    assert.equal(await page.textContent('#origin'), EXTENSION_ORIGIN);
    await page.close();
  });

  test('before set-up, a request keeps its selection and points to the options', async () => {
    const pages = await servePages();
    const page = await browser.context.newPage();
    try {
      await page.goto(`${pages.url}/thread.html`);
      const panel = await openPanel(browser.context, browser.id);
      assert.equal(await panel.isVisible('#setup'), true);
      await page.bringToFront();
      await draftFromSelection(page, '#c2-text');
      const error = await panelError(panel);
      assert.equal(error.kind, 'not_configured');
      assert.match(error.text, /Set the tact server URL, your API token, brand and channel in the extension options first/);
      assert.equal(await panel.isVisible('#error-options'), true);
      assert.equal(await panel.textContent('#selection'), 'Same here, do you ship to Canada at all?');
      await panel.close();
    } finally {
      await page.close();
      await pages.close();
    }
  });

  test('options page rejects bad settings field by field and stores nothing', async () => {
    const page = await openOptions(browser.context, browser.id);
    await fillOptions(page, { server: 'ftp://tact.example.com', token: 'Bearer abc', brand: 'Northwind Coffee', channel: 'X Public' });
    const { outcome } = await optionsOutcome(page, '#save');
    assert.equal(outcome, 'invalid');
    assert.match(await page.textContent('#server-error'), /http:\/\/ or https:\/\//);
    assert.match(await page.textContent('#token-error'), /without the word "Bearer"/);
    assert.match(await page.textContent('#brand-error'), /not a brand id/);
    assert.match(await page.textContent('#channel-error'), /not a channel id/);
    assert.equal(await page.getAttribute('#server', 'aria-invalid'), 'true');

    await fillOptions(page, { server: 'http://tact.example.com', token: 'two words', brand: '', channel: '' });
    await optionsOutcome(page, '#test');
    assert.match(await page.textContent('#server-error'), /Use https:\/\/ for a server that is not on this machine/);
    assert.match(await page.textContent('#token-error'), /spaces or line breaks/);
    assert.match(await page.textContent('#brand-error'), /Enter the brand id/);
    assert.match(await page.textContent('#channel-error'), /Enter the channel/);

    const stored = await browser.worker.evaluate(() => chrome.storage.local.get(null));
    assert.deepEqual(stored, {}, 'invalid settings are never saved');

    await fillOptions(page, { server: ' http://127.0.0.1:9/tact/ ', token: ' secret-token ', brand: 'northwind', channel: 'x' });
    assert.equal((await optionsOutcome(page, '#save')).outcome, 'saved');
    const { settings } = await browser.worker.evaluate(() => chrome.storage.local.get('settings'));
    assert.deepEqual(settings, { server: 'http://127.0.0.1:9/tact', token: 'secret-token', brand: 'northwind', channel: 'x' });
    assert.equal(await page.textContent('#server-error'), '');
    await page.close();
  });

  test('test connection says when nothing listens at the address', async () => {
    const page = await openOptions(browser.context, browser.id);
    const port = await deadPort();
    await fillOptions(page, { server: `http://127.0.0.1:${port}`, token: 'whatever' });
    const { outcome, text } = await optionsOutcome(page, '#test');
    assert.equal(outcome, 'unreachable');
    assert.match(text, new RegExp(`Cannot reach the tact server at http://127.0.0.1:${port}`));
    await page.close();
  });

  test('the content script inserts into the reply box last focused, and only there', async () => {
    const pages = await servePages();
    const page = await browser.context.newPage();
    try {
      await page.goto(`${pages.url}/editor.html`);
      await page.bringToFront();
      const insert = (text) => browser.worker.evaluate(async ([t]) => {
        const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
        return chrome.tabs.sendMessage(tab.id, { type: 'insert', text: t });
      }, [text]);

      const none = await insert('nothing focused yet');
      assert.equal(none.ok, false);
      assert.match(none.reason, /No reply box on the page has been focused/);

      // Focus moves on to a button (as when the user clicks into the panel): the last reply box
      // focused still gets the text, at its caret.
      await page.click('#rich');
      await page.keyboard.press('End');
      await page.click('#elsewhere');
      assert.deepEqual(await insert('! We do ship to Canada.'), { ok: true });
      assert.equal(await page.textContent('#rich'), 'Thanks! We do ship to Canada.');
      assert.equal(await page.evaluate(() => document.body.dataset.richInputs), '1');

      await page.fill('#plain', 'Thanks!');
      assert.deepEqual(await insert(' See you soon.'), { ok: true });
      assert.equal(await page.inputValue('#plain'), 'Thanks! See you soon.');
      assert.equal(await page.textContent('#rich'), 'Thanks! We do ship to Canada.', 'only one box changes');
    } finally {
      await page.close();
      await pages.close();
    }
  });

  test('a page that forbids extensions gets a clear message, not a silent failure', async () => {
    const page = await browser.context.newPage();
    await page.goto('chrome://version');
    // Which tab counts as active in headless Chromium does not always follow bringToFront, and
    // the extension may script its own pages: leave only browser pages for the query below.
    for (const other of browser.context.pages()) {
      if (other !== page && !other.url().startsWith('chrome://')) await other.goto('chrome://version');
    }
    await page.bringToFront();
    // What the keyboard shortcut runs, for a tab whose page scripts may not be injected into.
    await browser.worker.evaluate(async () => {
      const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
      self.tact.onCommand('request-draft', tab);
    });
    // The panel, opened afterwards, shows the session the worker kept.
    const panel = await openPanel(browser.context, browser.id);
    const error = await panelError(panel);
    assert.equal(error.kind, 'blocked');
    assert.match(error.text, /does not let extensions read it/);
    await panel.close();
    await page.close();
  });
});

// ---- a queue-full server (the one mock: tact's queue is hard to fill on purpose) -------------

describe('extension against a busy server', { skip: SKIP }, () => {
  let browser;
  let pages;
  let busy;
  const drafts = [];
  before(async () => {
    busy = http.createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      if (req.url === '/api/v1/drafts') {
        drafts.push(JSON.parse(body));
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end(JSON.stringify({ error: { code: 'queue_full', message: 'the drafting queue is full (64 waiting)' } }));
      } else if (req.url === '/api/v1/me') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ token_id: 't1', label: 'busy-agent', role: 'agent', brands: ['*'] }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise((resolve) => busy.listen(0, '127.0.0.1', resolve));
    browser = await launch();
    pages = await servePages();
    await saveSettings(browser.context, browser.id, { server: `http://127.0.0.1:${busy.address().port}`, token: 'busy-token' });
  });
  after(async () => {
    await browser?.close();
    await pages?.close();
    busy?.closeAllConnections();
    busy?.close();
  });

  test('503 queue_full shows when to retry and keeps the selection', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${pages.url}/thread.html`);
    await draftFromSelection(page, '#c2-text');
    const panel = await openPanel(browser.context, browser.id);
    const error = await panelError(panel);
    assert.equal(error.kind, 'queue_full');
    assert.match(error.text, /drafting queue is full\. Try again in 2 s/);
    assert.equal(await panel.textContent('#selection'), 'Same here, do you ship to Canada at all?');
    assert.equal(drafts.length, 1);
    assert.equal(drafts[0].text, 'Same here, do you ship to Canada at all?');
    assert.deepEqual(drafts[0].context, { url: `${pages.url}/thread.html`, title: 'Northwind Coffee community: where is my order?' });
    assert.match(await panel.textContent('#retry'), /^Retry in [12] s$/);
    assert.equal(await panel.isDisabled('#retry'), true, 'Retry waits for Retry-After');
    await panel.screenshot({ path: artifactPath('extension-panel-queue-full.png') });
    await panel.locator('#retry:not([disabled])').waitFor({ timeout: 5_000 });
    await panel.click('#retry');
    await panel.waitForFunction(() => /^Retry in/.test(document.getElementById('retry').textContent));
    assert.equal(drafts.length, 2, 'Retry sent the kept selection again');
    assert.equal(drafts[1].text, drafts[0].text);
    drafts.length = 0;

    // The keyboard shortcut and the context menu send the selection the same way.
    await page.bringToFront();
    await page.click('#c1-text', { clickCount: 3 });
    await browser.worker.evaluate(async () => {
      const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
      self.tact.onCommand('request-draft', tab);
    });
    await panel.locator('#selection:has-text("My order has been stuck")').waitFor();
    assert.equal((await panelError(panel)).kind, 'queue_full');
    await browser.worker.evaluate(async () => {
      const [tab] = await chrome.tabs.query({ active: true, lastFocusedWindow: true });
      self.tact.onMenuClicked({ menuItemId: 'tact-draft-reply', selectionText: 'Do you ship to Canada?', pageUrl: tab.url }, tab);
    });
    await panel.locator('#selection:has-text("Do you ship to Canada?")').waitFor();
    assert.deepEqual(drafts.map((d) => d.text), [
      'My order has been stuck in processing for two weeks and nobody answers my emails. Where is it?',
      'Do you ship to Canada?',
    ]);
    // Each request is its own session; the earlier ones stay reachable, selection and all.
    assert.equal(await panel.locator('#history option').count(), 3);
    await panel.selectOption('#history', { index: 2 });
    await panel.locator('#selection:has-text("Same here, do you ship to Canada at all?")').waitFor();
    await panel.close();
    await page.close();
  });
});

// ---- against a real `tact serve --demo` -----------------------------------------------------

describe('extension with tact serve', { skip: SKIP_SERVER }, () => {
  let server;
  let browser;
  let pages;
  const tokens = {};

  async function issue(role, label, brands = ['*']) {
    const issued = await api(server.url, server.adminToken, 'POST', '/api/v1/tokens', { role, label, brands });
    return { id: issued.token.id, secret: issued.secret, label };
  }

  before(async () => {
    server = await startServer({
      home: homeSharingModels(),
      env: {
        TACT__BRANDS_DIR: path.join(repoRoot, 'brands'),
        TACT__SERVER__CORS_ORIGINS: JSON.stringify([EXTENSION_ORIGIN]),
        // Short drafts keep the suite quick on a small machine; the flow is the same.
        TACT__DRAFT__CANDIDATES: '2',
        TACT__DRAFT__MAX_NEW_TOKENS: '48',
      },
    });
    tokens.agent = await issue('agent', 'ext-agent');
    tokens.approver = await issue('approver', 'ext-approver');
    tokens.otherBrand = await issue('approver', 'ext-other-brand', ['some-other-brand']);
    browser = await launch();
    pages = await servePages();
  });
  after(async () => {
    await browser?.close();
    await pages?.close();
    await server?.stop();
  });

  test('test connection reports a bad token (401), a missing brand scope (403) and success', async () => {
    const page = await openOptions(browser.context, browser.id);

    await fillOptions(page, { server: server.url, token: 'not-a-real-token' });
    let result = await optionsOutcome(page, '#test');
    assert.equal(result.outcome, 'unauthorized', result.text);
    assert.match(result.text, /rejected the API token/);

    await fillOptions(page, { server: server.url, token: tokens.otherBrand.secret });
    result = await optionsOutcome(page, '#test');
    assert.equal(result.outcome, 'forbidden', result.text);
    assert.match(result.text, /may act for some-other-brand, not for brand "northwind"/);

    await fillOptions(page, { server: server.url, token: tokens.agent.secret, channel: 'fax' });
    result = await optionsOutcome(page, '#test');
    assert.equal(result.outcome, 'not_found', result.text);
    assert.match(result.text, /has no channel "fax"/);

    await fillOptions(page, { server: server.url, token: tokens.agent.secret });
    result = await optionsOutcome(page, '#test');
    assert.equal(result.outcome, 'ok', result.text);
    assert.match(result.text, /ext-agent" with role agent/);
    assert.match(result.text, /approving needs an approver token/);
    await page.close();
  });

  /**
   * A copy of the extension without content scripts, so without host access to the server's
   * address: how it runs when the user limits its site access. Then only CORS lets it in.
   */
  async function testConnectionWithoutHostAccess({ keepKey }) {
    const dir = mkdtempSync(path.join(tmpdir(), 'tact-ext-nohosts-'));
    cpSync(EXTENSION_DIR, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
    delete manifest.content_scripts;
    if (!keepKey) delete manifest.key;
    writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
    const copy = await launch(dir);
    try {
      const page = await openOptions(copy.context, copy.id);
      await fillOptions(page, { server: server.url, token: tokens.agent.secret });
      return { id: copy.id, ...(await optionsOutcome(page, '#test')) };
    } finally {
      await copy.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  test('test connection names CORS when server.cors_origins does not list the extension', async () => {
    const result = await testConnectionWithoutHostAccess({ keepKey: false });
    assert.notEqual(result.id, EXTENSION_ID);
    assert.equal(result.outcome, 'cors', result.text);
    assert.match(result.text, new RegExp(`Add "chrome-extension://${result.id}" to server.cors_origins`));
  });

  test('server.cors_origins with the extension id lets it in without host access', async () => {
    const result = await testConnectionWithoutHostAccess({ keepKey: true });
    assert.equal(result.id, EXTENSION_ID);
    assert.equal(result.outcome, 'ok', result.text);
  });

  async function setPolicy(authorMayApproveOwnEdit) {
    await api(server.url, server.adminToken, 'PUT', '/api/v1/brands/northwind/policy', {
      approvals: 1,
      crisis_approvals: 2,
      crisis_mode: false,
      author_may_approve_own_edit: authorMayApproveOwnEdit,
      delivery: 'manual',
    });
  }

  /** Draft from a comment of the thread page through the selection button; the panel at review. */
  async function draftToReview(selector) {
    const page = await browser.context.newPage();
    await page.goto(`${pages.url}/thread.html`);
    await page.click('#reply'); // where the reply will go
    await draftFromSelection(page, selector);
    const panel = await openPanel(browser.context, browser.id);
    await stage(panel, 'review');
    const { tact } = await panel.evaluate(() => chrome.storage.session.get('tact'));
    const session = tact.sessions.find((s) => s.id === tact.currentId);
    assert.ok(session.messageId, 'the draft request became a message on the server');
    return { page, panel, session, messageId: session.messageId };
  }

  test('select, draft, edit, approve, insert: the server records the approval and the post', async () => {
    await setPolicy(true); // one person may edit and approve, as the brand's policy allows
    await saveSettings(browser.context, browser.id, { server: server.url, token: tokens.approver.secret });
    const { page, panel, session, messageId } = await draftToReview('#c1-text');

    // The click on the button opened the side panel (a page target Playwright does not drive).
    const cdp = await browser.context.newCDPSession(page);
    const { targetInfos } = await cdp.send('Target.getTargets');
    assert.ok(targetInfos.filter((t) => t.url === `${EXTENSION_ORIGIN}/panel.html`).length >= 2, 'the side panel opened beside the tab');
    await cdp.detach();

    assert.equal(await panel.textContent('#selection'), 'My order has been stuck in processing for two weeks and nobody answers my emails. Where is it?');
    await panel.screenshot({ path: artifactPath('extension-panel-candidates.png'), fullPage: true });
    const recorded = await api(server.url, server.adminToken, 'GET', `/api/v1/messages/${messageId}`);
    assert.equal(recorded.text, session.selection);
    assert.equal(recorded.status, 'awaiting_review');
    const queue = await api(server.url, server.adminToken, 'GET', '/api/v1/messages?brand=northwind&status=awaiting_review');
    assert.ok(queue.messages.some((m) => m.id === messageId), 'the ad-hoc draft is in the web queue too');

    // Ranked by score, each candidate with its citations and checks.
    const cards = panel.locator('li.candidate');
    assert.equal(await cards.count(), recorded.candidates.length);
    const ranked = [...recorded.candidates].sort((a, b) => b.score.total - a.score.total);
    assert.equal(await cards.first().getAttribute('data-index'), String(ranked[0].index));
    const cited = recorded.candidates.reduce((n, c) => n + c.citations.length, 0);
    assert.ok(cited > 0, 'the demo brand grounds drafts in its guidelines and past replies');
    assert.equal(await panel.locator('li.candidate .citations li').count(), cited);

    // Nothing unapproved leaves the panel: no insert or copy, and the worker refuses too.
    assert.equal(await panel.isVisible('#insert'), false);
    assert.equal(await panel.isVisible('#copy'), false);
    const refused = await panelVerb(panel, 'insert');
    assert.equal(refused.ok, false);
    assert.match(refused.error.message, /Only approved text can be inserted or copied: this reply is awaiting review/);
    assert.equal((await panelVerb(panel, 'release')).ok, false);
    assert.equal(await page.inputValue('#reply'), '');
    await panel.click('#dismiss');

    // Editing re-runs the brand's checks through the API; a blocking issue asks for a reason.
    await panel.fill('#edit', 'Unfortunately your order is late, sorry for the inconvenience.');
    await panel.locator('#edit-violations li[data-severity="block"]').first().waitFor();
    assert.match(await panel.textContent('#edit-violations'), /unfortunately/i);
    assert.equal(await panel.isVisible('#override'), true);
    await panel.screenshot({ path: artifactPath('extension-panel-edit-checks.png'), fullPage: true });
    const edited = 'So sorry for the wait, Maria. Please send us your order number and we will look into it today.';
    await panel.fill('#edit', edited);
    await panel.waitForFunction(() => /0 blocking|No guideline issues/.test(document.getElementById('edit-status').textContent));
    assert.equal(await panel.isVisible('#override'), false);

    await panel.click('#approve');
    await stage(panel, 'approved', 30_000);
    assert.equal(await panel.textContent('#final-text'), edited);
    await panel.screenshot({ path: artifactPath('extension-panel-approved.png'), fullPage: true });

    // A page that forbids extensions cannot take the text; the approved reply stays put.
    await page.goto('chrome://version');
    await panel.click('#insert');
    const blocked = await panelError(panel);
    assert.equal(blocked.kind, 'blocked');
    assert.match(blocked.text, /does not let extensions insert text/);
    assert.equal(await panel.textContent('#final-text'), edited);

    // Back on the thread: insert into the reply box, which marks the reply posted.
    await page.goto(`${pages.url}/thread.html`);
    await page.click('#reply');
    await panel.click('#insert');
    await stage(panel, 'posted', 30_000);
    assert.equal(await page.inputValue('#reply'), edited);
    assert.equal(await page.evaluate(() => document.body.dataset.replyInputs), '1', 'the page saw one input event');
    await panel.screenshot({ path: artifactPath('extension-panel-posted.png'), fullPage: true });

    const detail = await api(server.url, server.adminToken, 'GET', `/api/v1/messages/${messageId}`);
    assert.equal(detail.status, 'sent');
    assert.equal(detail.final_text, edited);
    assert.ok(detail.proposal.approved_by.some((r) => r.includes('ext-approver')), JSON.stringify(detail.proposal));
    const { entries } = await api(server.url, server.adminToken, 'GET', `/api/v1/messages/${messageId}/audit`);
    const approved = entries.find((e) => e.action === 'approved');
    assert.ok(approved, `audit: ${entries.map((e) => e.action)}`);
    assert.equal(approved.final_text, edited);
    assert.match(approved.actor, /ext-approver/);
    const posted = entries.find((e) => e.to === 'sent');
    assert.ok(posted, `the audit has the posted mark: ${entries.map((e) => `${e.action}->${e.to}`)}`);
    assert.match(posted.actor, /ext-approver/);
    await panel.close();
    await page.close();
  });

  test('an agent submits an edit for approval, an approver approves it, and copying marks it posted', async () => {
    await setPolicy(false); // the two-person rule: whoever edits may not approve
    await saveSettings(browser.context, browser.id, { server: server.url, token: tokens.agent.secret });
    const { page, panel, messageId } = await draftToReview('#c2-text');
    const edited = 'Yes, we ship to Canada! Delivery takes 5 to 8 working days.';
    await panel.fill('#edit', edited);
    assert.equal(await panel.isVisible('#approve'), false, 'an agent is offered no Approve');
    await panel.click('#submit');
    await panel.locator('#notice:has-text("Submitted for approval")').waitFor();
    const proposed = await api(server.url, server.adminToken, 'GET', `/api/v1/messages/${messageId}`);
    assert.equal(proposed.proposal.text, edited);
    assert.match(proposed.proposal.edited_by, /ext-agent/);

    await saveSettings(browser.context, browser.id, { server: server.url, token: tokens.approver.secret });
    await panel.locator('#approve:not([hidden])').waitFor();
    await panel.click('#approve');
    await stage(panel, 'approved', 30_000);

    await panel.click('#copy');
    await stage(panel, 'posted', 30_000);
    // The extension writes with its clipboardWrite permission; read it back from the web page
    // (Chromium grants clipboard-read to web origins only).
    await browser.context.grantPermissions(['clipboard-read'], { origin: pages.url });
    await page.bringToFront();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), edited);
    const detail = await api(server.url, server.adminToken, 'GET', `/api/v1/messages/${messageId}`);
    assert.equal(detail.status, 'sent');
    assert.equal(detail.final_text, edited);
    assert.ok(detail.proposal.approved_by.some((r) => r.includes('ext-approver')));
    assert.equal(await page.inputValue('#reply'), '', 'copying leaves the page alone');
    await panel.close();
    await page.close();
  });

  test('server down, then back: the selection waits in the panel and Retry sends it', async () => {
    const port = await deadPort();
    await saveSettings(browser.context, browser.id, { server: `http://127.0.0.1:${port}`, token: tokens.agent.secret });
    const page = await browser.context.newPage();
    await page.goto(`${pages.url}/thread.html`);
    await draftFromSelection(page, '#c2-text');
    const panel = await openPanel(browser.context, browser.id);
    const error = await panelError(panel);
    assert.equal(error.kind, 'unreachable');
    assert.match(error.text, new RegExp(`Cannot reach the tact server at http://127.0.0.1:${port}`));
    assert.equal(await panel.textContent('#selection'), 'Same here, do you ship to Canada at all?');
    await panel.screenshot({ path: artifactPath('extension-panel-server-down.png'), fullPage: true });

    // Closing the panel loses nothing: the session lives in the worker's session storage.
    await panel.close();
    await saveSettings(browser.context, browser.id, { server: server.url, token: tokens.agent.secret });
    const again = await openPanel(browser.context, browser.id);
    assert.equal(await again.textContent('#selection'), 'Same here, do you ship to Canada at all?');
    await again.click('#retry');
    await again.waitForFunction(() => ['drafting', 'review'].includes(document.body.dataset.stage));
    assert.equal(await again.isVisible('#error'), false);
    const { tact } = await again.evaluate(() => chrome.storage.session.get('tact'));
    const messageId = tact.sessions[0].messageId;
    assert.ok(messageId);
    const recorded = await api(server.url, server.adminToken, 'GET', `/api/v1/messages/${messageId}`);
    assert.equal(recorded.text, 'Same here, do you ship to Canada at all?');
    await again.close();
    await page.close();
  });

  test('a revoked token is named as the problem and the selection is kept', async () => {
    const doomed = await issue('agent', 'ext-doomed');
    await saveSettings(browser.context, browser.id, { server: server.url, token: doomed.secret });
    await api(server.url, server.adminToken, 'DELETE', `/api/v1/tokens/${doomed.id}`);
    const page = await browser.context.newPage();
    await page.goto(`${pages.url}/thread.html`);
    await draftFromSelection(page, '#c1-text');
    const panel = await openPanel(browser.context, browser.id);
    const error = await panelError(panel);
    assert.equal(error.kind, 'unauthorized');
    assert.match(error.text, /rejected the API token: it is wrong, expired or revoked/);
    assert.equal(await panel.isVisible('#error-options'), true, 'the panel offers the options page');
    assert.match(await panel.textContent('#selection'), /^My order has been stuck/);
    await panel.close();
    await page.close();
  });
});
