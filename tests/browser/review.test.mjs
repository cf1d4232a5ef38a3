// The web review page against a real `tact serve --demo` (real models, SQLite, drafting) in
// Debian's Chromium: sign in, review and approve a drafted message through the page with the
// guideline check following the edits, and hostile customer text rendered as text.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { chromium } from 'playwright-core';
import { api, artifactPath, chromiumPath, repoRoot, startServer } from './lib.mjs';

const executablePath = chromiumPath();
const skip = executablePath
  ? false
  : 'no Chromium found (apt-get install chromium, or set TACT_CHROMIUM): review page tests skipped';

// Drafting runs the real model on a small machine, behind the demo's own messages.
const DRAFTING_MS = 600_000;
const UI_MS = 30_000;

// Breaks `voice-and-tone.md > Words we use > 1` twice ("unfortunately", "kindly").
const BREAKS_GUIDELINES = 'Unfortunately that went wrong. Kindly send us a DM with the order number and we will look into it.';
// Within every rule of the demo brand on X: no banned or non-preferred terms, no promise, no
// sign-off, no link, no emoji, nothing quoted from the customer.
const FOLLOWS_GUIDELINES = 'Sorry about that. Please send us a DM with the order number and we will look into it with you.';
// A price and a duration that no source of the demo brand states (its fact sheet: no shipping
// to Canada yet).
const INVENTS_FACTS = 'Sorry about that. Shipping to Canada costs $4 and takes 2 days.';

let server;
let browser;

/** A TACT_HOME of its own (the embedded store is one process's) sharing the model cache. */
function homeSharingModels() {
  const shared = process.env.TACT_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'tact');
  const home = mkdtempSync(path.join(tmpdir(), 'tact-review-'));
  symlinkSync(path.join(shared, 'models'), path.join(home, 'models'));
  return home;
}

before(async () => {
  if (skip) return;
  server = await startServer({
    home: homeSharingModels(),
    env: {
      TACT__BRANDS_DIR: path.join(repoRoot, 'brands'),
      // Shorter drafts keep the suite quick on a small machine; the review flow is the same.
      TACT__DRAFT__MAX_NEW_TOKENS: '64',
    },
  });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  // The models are a symbolic link into the shared cache: removing the home leaves them be.
  if (server) rmSync(server.home, { recursive: true, force: true });
});

/** A page that fails the test on any uncaught script error. */
async function newPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.errors = errors;
  return page;
}

async function signIn(page, next = '/', token = server.adminToken) {
  await page.goto(`${server.url}${next}`);
  await page.waitForURL(/\/sign-in\?next=/);
  await page.fill('#token', token);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForURL((url) => url.pathname === new URL(next, server.url).pathname);
}

/** Polls a message listing until it has a message; returns the first one's id. */
async function firstDrafted(route) {
  const deadline = Date.now() + DRAFTING_MS;
  while (Date.now() < deadline) {
    const { messages } = await api(server.url, server.adminToken, 'GET', route);
    if (messages.length > 0) return messages[0].id;
    await new Promise((r) => setTimeout(r, 1000));
  }
  throw new Error(`nothing listed by ${route} after ${DRAFTING_MS / 1000} s`);
}

async function checkStatus(page) {
  await page.waitForFunction(() => {
    const s = document.querySelector('#check-status');
    return s && s.dataset.state && s.dataset.state !== 'checking';
  }, null, { timeout: UI_MS });
  return page.getAttribute('#check-status', 'data-state');
}

test('sign in, edit a candidate into a violation and out of it, approve, and see it sent', { skip }, async () => {
  const page = await newPage();
  const auth = (method, route, body) => api(server.url, server.adminToken, method, route, body);

  const { brands } = await auth('GET', '/api/v1/brands');
  const brand = brands[0].id;
  assert.ok(brands[0].channels.some((c) => c.id === 'x'), 'the demo brand replies on X');

  // The preconditions of the edit: the server's own check agrees on both texts.
  const broken = await auth('POST', '/api/v1/check', { brand, channel: 'x', text: BREAKS_GUIDELINES });
  assert.deepEqual(broken.violations.map((v) => v.rule), ['banned_term', 'banned_term'], JSON.stringify(broken));
  const fixed = await auth('POST', '/api/v1/check', { brand, channel: 'x', text: FOLLOWS_GUIDELINES });
  assert.deepEqual(fixed.violations, [], 'the clean reply must pass the demo brand\'s checks');

  // A wrong token is refused with a message saying so, and nothing is stored.
  await page.goto(`${server.url}/`);
  await page.waitForURL(/\/sign-in\?next=/);
  await page.fill('#token', 'not-a-real-token');
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForSelector('#sign-in-error:not(:empty)');
  assert.match(await page.textContent('#sign-in-error'), /not accepted/);
  assert.equal(await page.getAttribute('#token', 'aria-invalid'), 'true');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tact.token')), null);

  await page.fill('#token', server.adminToken);
  await page.click('#sign-in-form button[type=submit]');
  await page.waitForURL((url) => url.pathname === '/');
  assert.ok(!page.url().includes(server.adminToken), 'the token never appears in a URL');
  assert.equal(await page.evaluate(() => sessionStorage.getItem('tact.token')), server.adminToken);

  // The first of the demo's messages on X to be drafted.
  const id = await firstDrafted(`/api/v1/messages?brand=${brand}&channel=x&status=awaiting_review`);

  // The queue, filtered to X, refreshes on its own until our message shows.
  await page.selectOption('#f-channel', 'x');
  await page.waitForURL(/channel=x/);
  const item = page.locator(`.queue-item[data-id="${id}"]`);
  await item.waitFor({ timeout: UI_MS });
  await page.screenshot({ path: artifactPath('review-queue-1280.png'), fullPage: true });
  await page.setViewportSize({ width: 400, height: 860 });
  await page.screenshot({ path: artifactPath('review-queue-400.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // j moves through the queue; Enter opens the selected message.
  const ids = await page.$$eval('.queue-item', (links) => links.map((a) => a.dataset.id));
  for (let i = 0; i <= ids.indexOf(id); i += 1) await page.keyboard.press('j');
  assert.equal(await page.getAttribute('.queue-item[aria-current="true"]', 'data-id'), id);
  await page.keyboard.press('Enter');
  await page.waitForURL(`${server.url}/messages/${id}`);

  // The message, its candidates side by side, the first one in the editor and checked.
  await page.waitForSelector('.candidate .use-candidate:not([disabled])', { timeout: UI_MS });
  const detail = await auth('GET', `/api/v1/messages/${id}`);
  assert.equal(await page.textContent('#inbound-text'), detail.text);
  assert.equal(await page.locator('.candidate').count(), detail.candidates.length);
  if (detail.candidates.some((c) => c.origin === 'adapted_past_reply')) {
    assert.ok(await page.locator('.candidate .origin', { hasText: 'Adapted past reply' }).count() > 0);
  }
  assert.equal(await page.inputValue('#editor'), detail.candidates[0].text);
  await checkStatus(page);

  // e focuses the editor; a banned term shows up highlighted and listed as the text changes.
  await page.keyboard.press('e');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'editor');
  await page.fill('#editor', BREAKS_GUIDELINES);
  assert.equal(await checkStatus(page), broken.blocks > 0 ? 'block' : 'warn');
  // Block-level violations ask for an override reason before approving.
  assert.equal(await page.isVisible('#override-reason'), broken.blocks > 0);
  assert.match(await page.textContent('#editor-label'), /edited/);
  const marks = await page.$$eval('#check-preview mark.violation', (ms) => ms.map((m) => m.firstChild.textContent));
  assert.deepEqual(marks, ['Unfortunately', 'Kindly']);
  assert.equal(await page.locator('#check-violations li[data-rule="banned_term"]').count(), 2);
  assert.match(await page.textContent('#check-status'), /2 violations/);
  await page.screenshot({ path: artifactPath('review-message-1280.png'), fullPage: true });
  await page.setViewportSize({ width: 400, height: 860 });
  await page.screenshot({ path: artifactPath('review-message-400.png'), fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });

  // A fact the reviewer adds that no source states is highlighted, with the reason.
  await page.fill('#editor', INVENTS_FACTS);
  await checkStatus(page);
  const invented = await page.$$eval('#check-preview mark.violation[data-rule~="unsupported_claim"]',
    (ms) => ms.map((m) => ({ text: m.firstChild.textContent, why: m.title })));
  // Overlapping claims share one mark (the sentence, its price, its duration), each reason in it.
  assert.ok(invented.some((m) => m.text.includes('$4') && m.why.includes('"$4" is in no source')),
    JSON.stringify(invented));
  assert.ok(await page.locator('#check-violations li[data-rule="unsupported_claim"]').count() > 0);
  await page.screenshot({ path: artifactPath('review-unsupported-1280.png'), fullPage: true });

  // Fixed, the violations clear.
  await page.fill('#editor', FOLLOWS_GUIDELINES);
  assert.equal(await checkStatus(page), 'clean');
  assert.equal(await page.locator('#check-preview mark').count(), 0);
  assert.equal(await page.locator('#check-violations li').count(), 0);
  assert.equal(await page.isVisible('#override-reason'), false);

  // a approves, but not while typing: in the editor it is just a letter.
  await page.keyboard.press('a');
  assert.equal(await page.inputValue('#editor'), `${FOLLOWS_GUIDELINES}a`);
  await page.keyboard.press('Backspace');
  assert.equal(await checkStatus(page), 'clean');
  await page.evaluate(() => document.activeElement.blur());
  const { policy } = await auth('GET', `/api/v1/brands/${brand}`);
  let reviewer = page;
  if (!policy.author_may_approve_own_edit) {
    // The brand's policy wants someone other than the editor to approve an edit: the page
    // says why the approval was refused, and nothing changes.
    await page.keyboard.press('a');
    await page.waitForSelector('#action-error:not(:empty)', { timeout: UI_MS });
    assert.match(await page.textContent('#action-error'), /policy/);
    const unchanged = await auth('GET', `/api/v1/messages/${id}`);
    assert.equal(unchanged.status, 'awaiting_review');
    assert.equal(unchanged.version, detail.version);

    // So the editor proposes it, and a second approver approves it as proposed.
    await page.click('#propose');
    await page.waitForSelector('#state:has-text("up for approval")', { timeout: UI_MS });
    const proposed = await auth('GET', `/api/v1/messages/${id}`);
    assert.equal(proposed.proposal.text, FOLLOWS_GUIDELINES);
    const issued = await auth('POST', '/api/v1/tokens', { role: 'approver', label: 'second approver', brands: [brand] });
    reviewer = await newPage();
    await signIn(reviewer, `/messages/${id}`, issued.secret);
    await reviewer.waitForSelector('.candidate .use-candidate:not([disabled])', { timeout: UI_MS });
    assert.equal(await reviewer.inputValue('#editor'), FOLLOWS_GUIDELINES, 'the proposal is what is reviewed');
    assert.equal(await checkStatus(reviewer), 'clean');
  }
  await reviewer.keyboard.press('a');

  await reviewer.waitForSelector('#inbound-meta .badge.status-approved, #inbound-meta .badge.status-sent, #action-error:not(:empty)', { timeout: UI_MS });
  assert.equal(await reviewer.textContent('#action-error'), '', 'the approval was refused');
  const approved = await auth('GET', `/api/v1/messages/${id}`);
  assert.equal(approved.final_text, FOLLOWS_GUIDELINES);
  if (approved.delivery?.connector === 'manual') {
    // The demo brand has no webhook: a person posts the reply and says so.
    assert.equal(approved.status, 'approved');
    await reviewer.click('#mark-posted');
  }
  await reviewer.waitForSelector('#inbound-meta .badge.status-sent', { timeout: UI_MS });
  assert.match(await reviewer.textContent('#state'), /^Sent/);
  const sent = await auth('GET', `/api/v1/messages/${id}`);
  assert.equal(sent.status, 'sent');
  assert.equal(sent.final_text, FOLLOWS_GUIDELINES);
  assert.equal(await reviewer.locator('#approve').isDisabled(), true);

  // The audit trail shows the approval with the edit as a diff.
  await reviewer.waitForSelector('#audit .audit-entry del, #audit .audit-entry ins', { state: 'attached', timeout: UI_MS });
  const trail = await reviewer.textContent('#audit');
  assert.match(trail, /approved/);
  await reviewer.screenshot({ path: artifactPath('review-message-sent-1280.png'), fullPage: true });
  assert.deepEqual(page.errors, []);
  assert.deepEqual(reviewer.errors, []);
});

test('signing in never sends the reviewer off the site, however `next` is written', { skip }, async () => {
  const origin = new URL(server.url).origin;
  for (const next of ['/\t/evil.example/', '/\n/evil.example/', '//evil.example/', '/\\evil.example/', 'https://evil.example/']) {
    const page = await newPage();
    await page.goto(`${server.url}/sign-in?next=${encodeURIComponent(next)}`);
    await page.fill('#token', server.adminToken);
    await page.click('#sign-in-form button[type=submit]');
    await page.waitForURL((url) => url.origin === origin && url.pathname === '/', { timeout: UI_MS });
    assert.equal(new URL(page.url()).origin, origin, JSON.stringify(next));
    await page.context().close();
  }
});

test('hostile message text is rendered as text, while drafting streams in and after', { skip }, async () => {
  const page = await newPage();
  const id = `browser-hostile-${Date.now()}`;
  const author = '<img src=x onerror="window.__pwned=\'author\'">';
  const text = '<script>window.__pwned="script"</script><img src=x onerror="window.__pwned=\'img\'">'
    + '<b>bold</b> {{ 7*7 }} my order never came';
  await api(server.url, server.adminToken, 'POST', '/api/v1/messages', {
    id, brand: 'northwind', channel: 'x', author, text, created_at: new Date().toISOString(),
  });

  await signIn(page, `/messages/${encodeURIComponent(id)}`);
  await page.waitForSelector('#message:not([hidden])', { timeout: UI_MS });
  const openedWhile = await page.getAttribute('#inbound-meta .badge', 'class');
  let navigations = 0;
  page.on('framenavigated', (frame) => { if (frame === page.mainFrame()) navigations += 1; });
  const inert = async () => {
    assert.equal(await page.textContent('#inbound-text'), text);
    assert.equal(await page.textContent('#inbound-author'), author);
    assert.equal(await page.locator('main img, main script:not([src]), #inbound-text b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
  };
  await inert();

  // Opened while queued or drafting (the demo's messages are ahead of it), the page follows
  // the drafting over SSE to the finished candidates without a reload.
  assert.match(openedWhile, /status-(received|drafting)/);
  await page.waitForSelector('#inbound-meta .badge.status-awaiting_review', { timeout: DRAFTING_MS });
  await page.waitForSelector('.candidate .use-candidate:not([disabled])', { timeout: UI_MS });
  assert.equal(navigations, 0, 'the page reloaded instead of following the event stream');
  await inert();

  // The queue shows it as text too.
  await page.goto(`${server.url}/?status=`);
  const item = page.locator(`.queue-item[data-id="${id}"]`);
  await item.waitFor({ timeout: UI_MS });
  assert.equal(await item.locator('.qi-text').textContent(), text);
  assert.equal(await item.locator('.qi-author').textContent(), author);
  assert.equal(await page.locator('main img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(page.errors, []);
});
