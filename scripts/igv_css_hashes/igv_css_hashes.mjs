#!/usr/bin/env node
// Loads one igv.js release in Debian's headless Chromium and prints the CSP hash sources of the <style>
// elements igv.js injects, as YAML for the role variable `seqr_s3_igv_css_hashes`.
//
// Why a browser: igv.js builds its CSS strings at import time and inserts them as <style> elements. A CSP
// hash must match the exact text the browser sees, so the only trustworthy source is a real page load.
// Why also createBrowser: to prove nothing else gets inserted later (a missing hash would silently unstyle
// part of IGV on seqr).
//
// Usage: node igv_css_hashes.mjs <igv version> [--json] [--csp-trial NAME=POLICY]... [--chromium PATH]
//   --csp-trial loads the same page again under `Content-Security-Policy: POLICY` and reports the
//   securitypolicyviolation events and blocked <style> elements (used by tests/igv).
// Exit status: 0 success, 1 failure while running, 2 bad usage.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, normalize, sep } from 'node:path';
import { promisify } from 'node:util';

import { launchChromium } from './chromium.mjs';

const execFileAsync = promisify(execFile);

const USAGE =
  'usage: igv_css_hashes.mjs <igv version, e.g. 2.10.5> [--json] [--csp-trial NAME=POLICY]... [--chromium PATH]';
// Exact releases only: the table must be reproducible, so "latest" or ranges are refused.
const VERSION_PATTERN = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;
const TRIAL_NAME_PATTERN = /^[A-Za-z0-9_.-]+$/;
// Upper bounds so a hung npm or page cannot keep processes around forever (failure guards, not assertions).
const NPM_TIMEOUT_MS = 300_000;
const PAGE_TIMEOUT_MS = 90_000;

class UsageError extends Error {}

// Set by the signal handler, which then owns the exit; the main flow's resulting error is not reported.
let interruptedBy = null;

/** Parses argv into options; throws UsageError with a clear message on bad input. */
function parseArgs(argv) {
  const options = { version: null, json: false, trials: [], chromium: '/usr/bin/chromium' };
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index];
    if (arg === '--json') {
      options.json = true;
    } else if (arg === '--csp-trial' || arg === '--chromium') {
      const value = argv[index + 1];
      if (value === undefined) throw new UsageError(`${arg} needs a value`);
      index += 1;
      if (arg === '--chromium') {
        options.chromium = value;
        continue;
      }
      const separator = value.indexOf('=');
      const name = separator > 0 ? value.slice(0, separator) : '';
      const policy = separator > 0 ? value.slice(separator + 1) : '';
      if (!TRIAL_NAME_PATTERN.test(name) || policy.trim() === '') {
        throw new UsageError(`--csp-trial wants NAME=POLICY (policy not empty), got ${JSON.stringify(value)}`);
      }
      // A header value cannot hold line breaks; refusing them here gives a clearer error than Node's.
      if (/[\r\n]/.test(policy)) throw new UsageError(`--csp-trial ${name}: the policy must be one line`);
      if (options.trials.some((trial) => trial.name === name)) {
        throw new UsageError(`--csp-trial ${name} given twice`);
      }
      options.trials.push({ name, policy });
    } else if (arg.startsWith('-')) {
      throw new UsageError(`unknown option ${arg}`);
    } else if (options.version === null) {
      options.version = arg;
    } else {
      throw new UsageError(`only one igv version per run, got ${options.version} and ${arg}`);
    }
  }
  if (options.version === null) throw new UsageError('missing igv version');
  if (!VERSION_PATTERN.test(options.version)) {
    throw new UsageError(`not an exact igv.js release version: ${JSON.stringify(options.version)}`);
  }
  if (!existsSync(options.chromium)) {
    throw new UsageError(`Chromium not found at ${options.chromium} (Debian package "chromium")`);
  }
  return options;
}

/** The CSP source for a <style> text: what browsers compare against `'sha256-…'` in style-src. */
function cspHashSource(text) {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** Installs igv@version from npm into workDir and returns the installed package folder. */
async function installIgv(version, workDir) {
  await writeFile(join(workDir, 'package.json'), '{"private": true}\n');
  try {
    await execFileAsync(
      'npm',
      ['install', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', `igv@${version}`],
      { cwd: workDir, timeout: NPM_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (error) {
    const detail = String(error.stderr || error.message).trim().split('\n').slice(-5).join('\n');
    throw new Error(`npm could not install igv@${version}:\n${detail}`);
  }
  const packageDir = join(workDir, 'node_modules', 'igv');
  const manifest = JSON.parse(await readFile(join(packageDir, 'package.json'), 'utf8'));
  if (manifest.version !== version) {
    throw new Error(`npm installed igv ${manifest.version}, not the requested ${version}`);
  }
  return { packageDir, manifest };
}

/**
 * Picks the ES module file the way seqr imports igv (`igv/dist/igv.esm.min`); older or newer layouts fall
 * back to the unminified ESM build, then to the package's own "module" entry.
 */
function pickEsmEntry(packageDir, manifest) {
  const candidates = ['dist/igv.esm.min.js', 'dist/igv.esm.js'];
  if (typeof manifest.module === 'string') candidates.push(manifest.module.replace(/^\.\//, ''));
  const found = candidates.find((candidate) => existsSync(join(packageDir, candidate)));
  if (!found) {
    throw new Error(`no ES module build of igv ${manifest.version} (looked for ${candidates.join(', ')})`);
  }
  return found;
}

/** A small deterministic FASTA + .fai (so igv needs no genome from the internet) and a two-line BED. */
function tinyReference() {
  const lineWidth = 60;
  const length = 2400;
  const bases = 'ACGTTGCAAGCT';
  let sequence = '';
  for (let index = 0; index < length; index += 1) sequence += bases[(index * 7 + (index >> 3)) % bases.length];
  const header = '>chr1\n';
  const lines = sequence.match(new RegExp(`.{1,${lineWidth}}`, 'g'));
  const fasta = header + lines.join('\n') + '\n';
  const fai = `chr1\t${length}\t${Buffer.byteLength(header)}\t${lineWidth}\t${lineWidth + 1}\n`;
  const bed = 'chr1\t120\t180\tfeature-a\t0\t+\nchr1\t250\t330\tfeature-b\t0\t-\n';
  return { fasta: Buffer.from(fasta), fai: Buffer.from(fai), bed: Buffer.from(bed) };
}

/** The page: no inline script or style of its own, so every <style> and every violation is igv's. */
function pageHtml() {
  return [
    '<!doctype html>',
    '<html><head><meta charset="utf-8"><title>igv.js style probe</title></head>',
    '<body><div id="igv-probe"></div><script type="module" src="/probe.mjs"></script></body></html>',
    '',
  ].join('\n');
}

/** The module the page runs: import igv like seqr does, snapshot styles, create a browser, load a track. */
function probeModule(entry) {
  return `
const probe = window.__igvProbe;
try {
  const imported = await import('/igv/${entry}');
  const igv = imported.default ?? imported;
  probe.snapshot('import');
  const browser = await igv.createBrowser(document.getElementById('igv-probe'), {
    loadDefaultGenomes: false,
    showCytobandLegend: false,
    reference: { id: 'tiny', name: 'tiny', fastaURL: '/ref/tiny.fa', indexURL: '/ref/tiny.fa.fai' },
    locus: 'chr1:100-400',
    tracks: [],
  });
  // A feature track too, so track rendering (not only the empty browser) is covered by the final look.
  await browser.loadTrack({ type: 'annotation', format: 'bed', name: 'probe features', url: '/ref/tiny.bed' });
  // Let queued violation reports and late DOM work run before the final look.
  await new Promise((resolve) => setTimeout(resolve, 0));
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
  probe.snapshot('createBrowser');
  probe.done = true;
} catch (error) {
  probe.error = String((error && error.stack) || error);
}
`;
}

/**
 * Runs in the page before any of its scripts: records CSP violations and offers snapshot(), which lists
 * every <style> element in the document (head, body and open shadow roots) and what it holds.
 */
function probeInitScript() {
  const probe = { done: false, error: null, violations: [], snapshots: {}, seen: [] };
  window.__igvProbe = probe;
  document.addEventListener(
    'securitypolicyviolation',
    (event) => {
      probe.violations.push({
        effectiveDirective: event.effectiveDirective,
        violatedDirective: event.violatedDirective,
        blockedURI: event.blockedURI,
        sample: event.sample,
        sourceFile: event.sourceFile,
        lineNumber: event.lineNumber,
      });
    },
    true,
  );
  const collectRoots = (root, roots) => {
    roots.push(root);
    for (const element of root.querySelectorAll('*')) {
      if (element.shadowRoot) collectRoots(element.shadowRoot, roots);
    }
    return roots;
  };
  probe.snapshot = (phase) => {
    const styles = [];
    let adoptedSheets = 0;
    for (const root of collectRoots(document, [])) {
      if (root !== document) adoptedSheets += (root.adoptedStyleSheets || []).length;
      for (const style of root.querySelectorAll('style')) {
        let index = probe.seen.indexOf(style);
        if (index < 0) index = probe.seen.push(style) - 1;
        styles.push({
          id: index,
          text: style.textContent,
          inHead: style.parentNode === document.head,
          inShadowRoot: root !== document,
          applied: style.sheet !== null,
        });
      }
    }
    probe.snapshots[phase] = { styles, adoptedSheets };
  };
}

/** Serves the page, the installed igv package and the tiny reference on a loopback port. */
async function startServer(packageDir, entry) {
  const reference = tinyReference();
  const trialPolicies = new Map();
  const files = {
    '/': { body: Buffer.from(pageHtml()), type: 'text/html; charset=utf-8' },
    '/probe.mjs': { body: Buffer.from(probeModule(entry)), type: 'text/javascript; charset=utf-8' },
    '/ref/tiny.fa': { body: reference.fasta, type: 'text/plain' },
    '/ref/tiny.fa.fai': { body: reference.fai, type: 'text/plain' },
    '/ref/tiny.bed': { body: reference.bed, type: 'text/plain' },
  };
  const server = createServer(async (request, response) => {
    try {
      const url = new URL(request.url, 'http://loopback');
      let file = files[url.pathname];
      if (!file && url.pathname.startsWith('/igv/')) {
        // Only files inside the installed package: normalise, then refuse anything that climbs out.
        const relative = normalize(decodeURIComponent(url.pathname.slice('/igv/'.length)));
        if (relative.startsWith('..') || relative.startsWith(sep)) {
          response.writeHead(403).end();
          return;
        }
        const path = join(packageDir, relative);
        if (existsSync(path)) {
          file = { body: await readFile(path), type: 'text/javascript; charset=utf-8' };
        }
      }
      if (!file) {
        response.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      const headers = { 'Content-Type': file.type, 'Cache-Control': 'no-store', 'Accept-Ranges': 'bytes' };
      const policy = url.pathname === '/' ? trialPolicies.get(url.searchParams.get('trial')) : undefined;
      if (policy) headers['Content-Security-Policy'] = policy;
      // igv reads the FASTA by byte ranges once it has the index.
      const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range || '');
      if (range) {
        const size = file.body.length;
        const first = Number(range[1]);
        const last = Math.min(range[2] === '' ? size - 1 : Number(range[2]), size - 1);
        if (first >= size || first > last) {
          response.writeHead(416, { 'Content-Range': `bytes */${size}` }).end();
          return;
        }
        headers['Content-Range'] = `bytes ${first}-${last}/${size}`;
        response.writeHead(206, headers).end(file.body.subarray(first, last + 1));
        return;
      }
      response.writeHead(200, headers).end(file.body);
    } catch (error) {
      response.writeHead(500, { 'Content-Type': 'text/plain' }).end(`${error}\n`);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return { server, origin: `http://127.0.0.1:${server.address().port}`, trialPolicies };
}

/** Loads the page once in a fresh browser context and returns what the probe saw. */
async function loadPage(browser, origin, trialName) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const externalRequests = [];
    const loopbackPaths = [];
    const pageErrors = [];
    // igv must run offline: anything not on our loopback origin is refused and reported.
    await page.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`)) {
        loopbackPaths.push(new URL(url).pathname);
        return route.continue();
      }
      externalRequests.push(url);
      return route.abort();
    });
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    await page.addInitScript(probeInitScript);
    const target = trialName ? `${origin}/?trial=${encodeURIComponent(trialName)}` : `${origin}/`;
    await page.goto(target, { waitUntil: 'load', timeout: PAGE_TIMEOUT_MS });
    await page.waitForFunction(() => window.__igvProbe.done || window.__igvProbe.error !== null, null, {
      timeout: PAGE_TIMEOUT_MS,
    });
    const probe = await page.evaluate(() => {
      const { done, error, violations, snapshots } = window.__igvProbe;
      return { done, error, violations, snapshots };
    });
    return { ...probe, externalRequests, loopbackPaths: [...new Set(loopbackPaths)], pageErrors };
  } finally {
    await context.close();
  }
}

/** Turns a snapshot's style list into hash records. */
function describeStyles(styles) {
  return styles.map((style) => ({
    id: style.id,
    hash: cspHashSource(style.text),
    bytes: Buffer.byteLength(style.text, 'utf8'),
    inHead: style.inHead,
    inShadowRoot: style.inShadowRoot,
    applied: style.applied,
  }));
}

/** Does the whole job for one version and returns a JSON-ready result. */
async function run(options) {
  const workDir = await mkdtemp(join(tmpdir(), 'igv-css-hashes-'));
  let browser = null;
  let server = null;
  const stopOnSignal = async (signal) => {
    // Never leave Chromium or the temp folder behind when interrupted; the main flow will fail meanwhile
    // because its browser went away, and must not exit before this cleanup is done.
    interruptedBy = signal;
    if (browser) await browser.close().catch(() => {});
    await rm(workDir, { recursive: true, force: true });
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15));
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.once(signal, stopOnSignal);
  try {
    const { packageDir, manifest } = await installIgv(options.version, workDir);
    const entry = pickEsmEntry(packageDir, manifest);
    const started = await startServer(packageDir, entry);
    server = started.server;
    for (const trial of options.trials) started.trialPolicies.set(trial.name, trial.policy);
    browser = await launchChromium(options.chromium, PAGE_TIMEOUT_MS);

    const baseline = await loadPage(browser, started.origin, null);
    if (baseline.error || !baseline.done) {
      throw new Error(`igv ${options.version} failed in the page: ${baseline.error}`);
    }
    const atImport = describeStyles(baseline.snapshots.import.styles);
    const atEnd = describeStyles(baseline.snapshots.createBrowser.styles);
    const importIds = new Set(atImport.map((style) => style.id));
    const addedLater = atEnd.filter((style) => !importIds.has(style.id));
    const outsideHead = atEnd.filter((style) => !style.inHead);
    // Every <style> igv made needs a hash, whenever it appeared; identical texts share one hash.
    const hashes = [...new Set([...atImport, ...addedLater].map((style) => style.hash))];

    const trials = {};
    for (const trial of options.trials) {
      const seen = await loadPage(browser, started.origin, trial.name);
      const styles = seen.snapshots.createBrowser ? describeStyles(seen.snapshots.createBrowser.styles) : [];
      trials[trial.name] = {
        policy: trial.policy,
        done: seen.done,
        error: seen.error,
        violations: seen.violations,
        blockedStyles: styles.filter((style) => !style.applied).map((style) => style.hash),
        styleHashes: styles.map((style) => style.hash),
        externalRequests: seen.externalRequests,
        pageErrors: seen.pageErrors,
      };
    }
    return {
      version: options.version,
      entry,
      chromium: browser.version(),
      hashes,
      stylesAtImport: atImport,
      stylesAddedByCreateBrowser: addedLater,
      stylesOutsideHead: outsideHead,
      adoptedShadowSheets: baseline.snapshots.createBrowser.adoptedSheets,
      baselineViolations: baseline.violations,
      externalRequests: baseline.externalRequests,
      // Shows that createBrowser really ran against the tiny reference (it fetches /ref/tiny.fa*).
      loopbackPaths: baseline.loopbackPaths,
      pageErrors: baseline.pageErrors,
      trials,
    };
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (server) server.close();
    await rm(workDir, { recursive: true, force: true });
    for (const signal of signals) process.removeListener(signal, stopOnSignal);
  }
}

/** The YAML block for the role variable, with a comment saying where it came from. */
function toYaml(result) {
  const later = result.stylesAddedByCreateBrowser.length;
  const lines = [
    `# igv.js ${result.version} (${result.entry}) in Chromium ${result.chromium}: ` +
      `${result.stylesAtImport.length} <style> element(s) added on import, ` +
      `${later} more after createBrowser and loadTrack`,
    'seqr_s3_igv_css_hashes:',
    ...result.hashes.map((hash) => `  - "${hash}"`),
  ];
  return `${lines.join('\n')}\n`;
}

async function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`igv_css_hashes: ${error.message}\n${USAGE}\n`);
    return 2;
  }
  const result = await run(options);
  if (result.stylesAddedByCreateBrowser.length > 0) {
    process.stderr.write(
      `igv_css_hashes: warning: igv ${result.version} added ${result.stylesAddedByCreateBrowser.length} ` +
        '<style> element(s) after createBrowser; their hashes are included\n',
    );
  }
  if (result.externalRequests.length > 0) {
    process.stderr.write(`igv_css_hashes: warning: refused requests off loopback: ${result.externalRequests}\n`);
  }
  process.stdout.write(options.json ? `${JSON.stringify(result, null, 2)}\n` : toYaml(result));
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    if (interruptedBy) return;
    process.stderr.write(`igv_css_hashes: ${error.message}\n`);
    process.exit(1);
  },
);
