#!/usr/bin/env node
// Opens the seqr stand-in's IGV page (tests/seqr_standin: /project/<guid>/igv_reads) in Debian's headless
// Chromium, as a logged-in user, and reports what igv.js loaded, every response the page got, and every
// Content-Security-Policy violation. Used by tests/igv/test_igv_reads_browser.py.
//
// Why a real browser: the point is what a seqr user meets. igv.js itself asks for the index and the byte
// ranges through seqr's IGV API, follows redirects under CORS, and styles itself under seqr's CSP; no HTTP
// client in a test can stand in for that.
//
// Input (stdin, JSON, so the session cookie and the password never show on a command line):
//   {"url": "...", "cookies": [{"name", "value"}], "screenshot": "path.png" | null,
//    "login": {"email", "password"} (optional: the url sends an anonymous visitor to the login page, whose
//    form the driver fills and submits, as a person would, and the site brings it back to the url),
//    "chromium": "/usr/bin/chromium" (optional), "timeoutMs": 90000 (optional),
//    "home": a folder whose .pki/nssdb holds certificate authorities to trust beyond the system's (optional),
//    "hostResolverRules": Chromium's --host-resolver-rules, e.g. "MAP rgw.example.test 10.0.0.2" (optional)}
// Output (stdout, JSON): {ok, error, url (where the page ended), pageStatus, login: {url, status} | null,
//   igvVersion, tracks: [{name, format, alignments}], responses: [...], violations: [...] (the login page's
//   too), pageErrors: [...], offOriginRequests: [...]}.
// Exit status: 0 the page was examined (whatever it showed), 1 the browser could not be run, 2 bad input.

import { DEFAULT_CHROMIUM, InputError, checkedCookies, launchChromium, readJsonObject } from './chromium.mjs';

// Failure guard for one page (igv loads tiny fixtures in about a second); not an assertion on timing.
const DEFAULT_TIMEOUT_MS = 90_000;

/** The request's optional string field `name`, or null. */
function optionalString(request, name) {
  const value = request[name] ?? null;
  if (value !== null && typeof value !== 'string') throw new InputError(`"${name}" must be a string`);
  return value;
}

/** Reads and checks the JSON request on stdin. */
function readRequest() {
  const request = readJsonObject();
  let pageUrl;
  try {
    pageUrl = new URL(request.url);
  } catch {
    throw new InputError(`"url" is not an absolute URL: ${JSON.stringify(request.url)}`);
  }
  const login = request.login ?? null;
  if (login !== null && !(typeof login?.email === 'string' && typeof login?.password === 'string')) {
    throw new InputError('"login" must be {"email": string, "password": string}');
  }
  return {
    pageUrl,
    login,
    cookies: checkedCookies(request),
    screenshot: request.screenshot ?? null,
    chromium: request.chromium ?? DEFAULT_CHROMIUM,
    timeoutMs: Number.isInteger(request.timeoutMs) ? request.timeoutMs : DEFAULT_TIMEOUT_MS,
    home: optionalString(request, 'home'),
    hostResolverRules: optionalString(request, 'hostResolverRules'),
  };
}

/** Runs in the page before any of its scripts: records CSP violations (the page cannot hide them). */
function recordViolations() {
  window.__cspViolations = [];
  document.addEventListener(
    'securitypolicyviolation',
    (event) => {
      window.__cspViolations.push({
        effectiveDirective: event.effectiveDirective,
        blockedURI: event.blockedURI,
        sample: event.sample,
        sourceFile: event.sourceFile,
        lineNumber: event.lineNumber,
      });
    },
    true,
  );
}

/**
 * Runs in the page: the reads igv.js holds per alignment track, across igv versions.
 * 2.x keeps a viewport's data in `tile.features` with `packedAlignmentRows`; 3.x in `featureCache.features`
 * with `allAlignments()`. Returns null while igv is still creating its browser.
 */
function igvState() {
  const page = window.seqrIgvReads;
  if (!page) return null;
  if (page.error) return { error: page.error };
  if (!page.browser) return null;
  const countAlignments = (container) => {
    if (!container) return 0;
    if (typeof container.allAlignments === 'function') return container.allAlignments().length;
    if (Array.isArray(container.packedAlignmentRows)) {
      return container.packedAlignmentRows.reduce((sum, row) => sum + row.alignments.length, 0);
    }
    return Array.isArray(container.alignments) ? container.alignments.length : 0;
  };
  const tracks = page.browser.trackViews
    .filter((trackView) => trackView.track && trackView.track.type === 'alignment')
    .map((trackView) => {
      const viewport = trackView.viewports[0];
      const container = viewport.featureCache?.features ?? viewport.tile?.features;
      return {
        name: trackView.track.name,
        format: trackView.track.config?.format ?? null,
        alignments: countAlignments(container),
        loading: Boolean(viewport.loading),
      };
    });
  return { error: null, igvVersion: typeof page.igv.version === 'function' ? page.igv.version() : null, tracks };
}

async function examine(browser, request) {
  const context = await browser.newContext({ viewport: { width: 1200, height: 700 } });
  try {
    await context.addCookies(
      request.cookies.map((cookie) => ({ name: cookie.name, value: cookie.value, url: request.pageUrl.origin })),
    );
    const page = await context.newPage();
    const pageErrors = [];
    const offOriginRequests = [];
    // allHeaders() (not headers()) so the Range of a request that followed a redirect is seen as sent.
    const recorded = [];
    page.on('response', (response) => {
      recorded.push(
        (async () => {
          const sent = response.request();
          const sentHeaders = await sent.allHeaders().catch(() => sent.headers());
          const answerHeaders = await response.allHeaders().catch(() => response.headers());
          const redirectedFrom = sent.redirectedFrom();
          return {
            url: response.url(),
            status: response.status(),
            method: sent.method(),
            range: sentHeaders.range ?? null,
            contentRange: answerHeaders['content-range'] ?? null,
            location: answerHeaders.location ?? null,
            redirectedFrom: redirectedFrom ? redirectedFrom.url() : null,
          };
        })(),
      );
    });
    page.on('request', (sent) => {
      const origin = new URL(sent.url()).origin;
      if (origin !== request.pageUrl.origin) offOriginRequests.push(sent.url());
    });
    page.on('requestfailed', (sent) => pageErrors.push(`request failed: ${sent.url()} ${sent.failure()?.errorText}`));
    page.on('pageerror', (error) => pageErrors.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`console: ${message.text()}`);
    });
    // Init scripts come from the browser, not the page, so the page's CSP does not apply to them.
    await page.addInitScript({ content: `(${recordViolations})();\nwindow.__seqrIgvState = ${igvState};` });
    let answer = await page.goto(request.pageUrl.href, { waitUntil: 'load', timeout: request.timeoutMs });
    let state = null;
    let error = null;
    let login = null;
    const loginViolations = [];
    if (request.login) {
      login = { url: page.url(), status: answer ? answer.status() : null };
      const form = page.locator('form#login');
      if ((await form.count()) !== 1) {
        error = `the page sent no login form: ${page.url()}`;
      } else {
        await form.locator('input[name="email"]').fill(request.login.email);
        await form.locator('input[name="password"]').fill(request.login.password);
        loginViolations.push(...(await page.evaluate(() => window.__cspViolations)));
        const navigation = page.waitForNavigation({ waitUntil: 'load', timeout: request.timeoutMs });
        await form.locator('button[type="submit"]').click();
        answer = await navigation;
        if (page.url() !== request.pageUrl.href) {
          error = `the login did not lead back to the page: ${page.url()} answered ${answer ? answer.status() : null}`;
        }
      }
    }
    try {
      if (error) throw new Error(error); // the login failed: nothing to wait for, the error stands
      // Done when igv failed, or every alignment track finished loading its first view.
      const handle = await page.waitForFunction(
        () => {
          const state = window.__seqrIgvState();
          if (!state) return null;
          if (state.error) return state;
          const settled = state.tracks.length > 0 && state.tracks.every((t) => !t.loading && t.alignments > 0);
          return settled ? state : null;
        },
        null,
        { timeout: request.timeoutMs, polling: 100 },
      );
      state = await handle.jsonValue();
    } catch (waitError) {
      // Not loaded in time (or the login failed): report what igv holds now, so the test can say which track stayed empty.
      error ??= `igv did not show reads for every track: ${waitError.message.split('\n')[0]}`;
      state = await page.evaluate(() => window.__seqrIgvState()).catch(() => null);
    }
    // One animation frame, so violation reports queued by the last render are delivered before reading.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => resolve())));
    const violations = [...loginViolations, ...(await page.evaluate(() => window.__cspViolations))];
    const responses = await Promise.all(recorded);
    if (request.screenshot) await page.screenshot({ path: request.screenshot });
    return {
      ok: error === null && state !== null && !state.error,
      error: error ?? state?.error ?? null,
      url: page.url(),
      pageStatus: answer ? answer.status() : null,
      login,
      igvVersion: state?.igvVersion ?? null,
      tracks: state?.tracks ?? [],
      responses,
      violations,
      pageErrors,
      offOriginRequests,
    };
  } finally {
    await context.close();
  }
}

async function main() {
  let request;
  try {
    request = readRequest();
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    process.stderr.write(`igv_reads_page: ${error.message}\n`);
    return 2;
  }
  const browser = await launchChromium(request.chromium, request.timeoutMs, {
    home: request.home,
    hostResolverRules: request.hostResolverRules,
  });
  const closeAndExit = async (signal) => {
    await browser.close().catch(() => {});
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', closeAndExit);
  process.once('SIGTERM', closeAndExit);
  try {
    process.stdout.write(`${JSON.stringify(await examine(browser, request), null, 2)}\n`);
    return 0;
  } finally {
    await browser.close().catch(() => {});
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`igv_reads_page: ${error.message}\n`);
    process.exit(1);
  },
);
