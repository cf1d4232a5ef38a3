// The eval report (`tact eval run` → report.html) in Debian's Chromium: a real run of a few demo
// cases on the bundled models, with a baseline so the comparison section renders, then the
// page is opened from disk with every network request refused (the report must be
// self-contained), checked and screenshotted into the test artifacts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

import { chromium } from 'playwright-core';

import { artifactPath, chromiumPath, repoRoot, tactBin } from './lib.mjs';

const CHROMIUM = chromiumPath();
const BIN = tactBin();
const SKIP = !CHROMIUM
  ? 'SKIPPED: no Chromium found (install Debian\'s chromium or set TACT_CHROMIUM)'
  : !BIN ? 'SKIPPED: tact binary not found (set TACT_BIN or build with cargo first)' : false;
if (SKIP) console.log(`eval report test ${SKIP}`);

/** A TACT_HOME of its own (the embedded store is one process's) sharing the model cache. */
function tempHome() {
  const shared = process.env.TACT_HOME
    ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'tact');
  const home = mkdtempSync(path.join(tmpdir(), 'tact-eval-report-'));
  symlinkSync(path.join(shared, 'models'), path.join(home, 'models'));
  return home;
}

function evalRun(home, args) {
  const run = spawnSync(BIN, ['eval', 'run', path.join(repoRoot, 'evals/demo/suite.toml'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, TACT_HOME: home, TACT_LOG: 'off' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  // The demo gate may pass or fail on a handful of cases; anything else is an error.
  if (run.status !== 0 && !/^error: gate failed/m.test(run.stderr)) {
    throw new Error(`tact eval run failed (${run.status}):\n${run.stdout}\n${run.stderr}`);
  }
  return run;
}

test('the eval report renders in Chromium without loading anything', { skip: SKIP, timeout: 900_000 }, async () => {
  const home = tempHome();
  const subset = ['--filter', 'delivery', '--limit', '4', '--max-tokens', '24'];
  const first = path.join(home, 'first');
  evalRun(home, [...subset, '--report', first]);
  // A baseline in which everything passed, so the run below shows regressions.
  const baseline = JSON.parse(readFileSync(path.join(first, 'report.json'), 'utf8'));
  for (const c of baseline.cases) {
    c.passed = true;
    for (const check of c.checks) check.passed = true;
  }
  baseline.summary.pass_rate = 1;
  const baselinePath = path.join(home, 'baseline.json');
  writeFileSync(baselinePath, JSON.stringify(baseline));
  const out = path.join(home, 'report');
  evalRun(home, [...subset, '--baseline', baselinePath, '--report', out]);
  const report = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8'));

  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: false, args: ['--headless=new'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const external = [];
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith('file://')) return route.continue();
      external.push(url);
      return route.abort();
    });
    await page.goto(`file://${path.join(out, 'report.html')}`);
    assert.deepEqual(external, [], 'the report requests nothing from outside');

    assert.match(await page.title(), /tact eval: northwind-demo/);
    const headings = await page.locator('h2').allInnerTexts();
    for (const h of ['Pass rate per check', 'Pass rate per guideline clause', 'Similarity to the reference',
      'Latency (whole draft)', 'Against the baseline']) {
      assert.ok(headings.includes(h), `missing section ${h}: ${headings}`);
    }
    // The histograms are drawn: one bar per bin in each.
    assert.equal(await page.locator('svg').count(), 2);
    assert.equal(await page.locator('svg rect').count(), 20);
    const failing = report.cases.filter((c) => !c.passed).length;
    assert.ok(headings.includes(`Failing cases (${failing})`), headings.join(' | '));
    assert.equal(await page.locator('.case').count(), failing);
    if (failing > 0) {
      assert.ok(await page.locator('h3.fail', { hasText: 'Regressed' }).isVisible());
    }
    const marked = report.cases.filter((c) => !c.passed && c.draft?.violations.some((v) => v.excerpt && c.draft.text.includes(v.excerpt)));
    if (marked.length > 0) assert.ok(await page.locator('.case mark').count() > 0, 'violations are highlighted');
    const passRate = await page.locator('.card b').first().innerText();
    assert.equal(passRate, `${(report.summary.pass_rate * 100).toFixed(1)}%`);
    await page.screenshot({ path: artifactPath('eval-report.png'), fullPage: true });
  } finally {
    await browser.close();
  }
});
