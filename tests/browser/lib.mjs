// Shared support for the browser tests: Debian's Chromium through playwright-core, and a real
// `tact serve --demo` on a free port with its own TACT_HOME.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const artifactsDir = process.env.TACT_TEST_ARTIFACTS ?? path.join(repoRoot, 'target', 'test-artifacts');

/** The Chromium to drive, or null (the caller skips and says why). */
export function chromiumPath() {
  const candidates = [process.env.TACT_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

/** The `tact` binary built by cargo (scripts/test.sh exports TACT_BIN). */
export function tactBin() {
  const fromEnv = process.env.TACT_BIN;
  if (fromEnv && existsSync(fromEnv)) return fromEnv;
  const target = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, 'target');
  const guess = path.join(target, 'debug', 'tact');
  return existsSync(guess) ? guess : null;
}

export function artifactPath(name) {
  mkdirSync(artifactsDir, { recursive: true });
  return path.join(artifactsDir, name);
}

/**
 * Starts `tact serve --demo` on a free port. Resolves with { url, adminToken, home, stop }.
 * The server prints `tact is running at <url>` and `admin token: <token>` on stdout.
 */
export async function startServer({ args = [], env = {}, home } = {}) {
  const bin = tactBin();
  if (!bin) throw new Error('tact binary not found: set TACT_BIN or build with cargo first');
  const tactHome = home ?? mkdtempSync(path.join(tmpdir(), 'tact-browser-'));
  const child = spawn(bin, ['serve', '--demo', '--addr', '127.0.0.1:0', ...args], {
    cwd: repoRoot,
    // Plumbing, not quality: the small chat model keeps the pages' tests fast.
    env: { TACT__MODEL__CHAT: 'smollm2-135m-instruct', ...process.env, TACT_HOME: tactHome, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tact serve did not start in 300 s\nstdout:\n${out}\nstderr:\n${err}`)), 300_000);
    child.stdout.on('data', (d) => {
      out += d;
      const url = out.match(/tact is running at (\S+)/)?.[1];
      const adminToken = out.match(/admin token: (\S+)/)?.[1];
      if (url && adminToken) { clearTimeout(timer); resolve({ url: url.replace(/\/$/, ''), adminToken }); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`tact serve exited with ${code}\nstdout:\n${out}\nstderr:\n${err}`)); });
  });
  const { url, adminToken } = await ready;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(t);
  };
  return { url, adminToken, home: tactHome, child, stop, logs: () => ({ out, err }) };
}

/** Calls the JSON API with a bearer token; throws with the server's error on a non-2xx. */
export async function api(base, token, method, route, body) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = text ? JSON.parse(text) : null;
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return json;
}
