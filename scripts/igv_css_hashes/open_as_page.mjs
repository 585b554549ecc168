#!/usr/bin/env node
// Opens URLs as top-level pages in Debian's headless Chromium, as a logged-in user would follow a link, and
// reports what each became: a page (its title), a download, or an error, plus every request the browser made.
// Used by tests/igv/test_read_as_page_browser.py: a read stored as an HTML page with a <script> must never run
// that script on seqr's origin (the script sets document.title and requests a probe path).
//
// Input (stdin, JSON, so the session cookie never shows on a command line):
//   {"pages": [{"url": "...", "html": "..." (optional: the browser itself answers this URL with this HTML, a
//    control that shows a script would be seen)}], "cookies": [{"name", "value"}],
//    "chromium": "/usr/bin/chromium" (optional), "timeoutMs": 60000 (optional)}
// Output (stdout, JSON): {"pages": [{url, status, contentType, title, download, error}], "requests": [urls]}.
// Exit status: 0 the pages were opened (whatever they showed), 1 the browser could not be run, 2 bad input.

import { DEFAULT_CHROMIUM, InputError, checkedCookies, launchChromium, readJsonObject } from './chromium.mjs';

// Failure guard per page, not an assertion on timing.
const DEFAULT_TIMEOUT_MS = 60_000;

function readRequest() {
  const request = readJsonObject();
  if (!Array.isArray(request.pages) || !request.pages.length) throw new InputError('"pages" must be a non-empty list');
  const pages = request.pages.map((page) => {
    try {
      return { url: new URL(page.url), html: typeof page.html === 'string' ? page.html : null };
    } catch {
      throw new InputError(`"url" is not an absolute URL: ${JSON.stringify(page?.url)}`);
    }
  });
  return {
    pages,
    cookies: checkedCookies(request),
    chromium: request.chromium ?? DEFAULT_CHROMIUM,
    timeoutMs: Number.isInteger(request.timeoutMs) ? request.timeoutMs : DEFAULT_TIMEOUT_MS,
  };
}

async function openOne(context, target, timeoutMs, requests) {
  const page = await context.newPage();
  page.on('request', (sent) => requests.push(sent.url()));
  if (target.html !== null) {
    await page.route(target.url.href, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: target.html }),
    );
  }
  let download = false;
  page.on('download', () => {
    download = true;
  });
  const result = { url: target.url.href, status: null, contentType: null, title: null, download: false, error: null };
  try {
    const answer = await page.goto(target.url.href, { waitUntil: 'load', timeout: timeoutMs });
    if (answer) {
      result.status = answer.status();
      result.contentType = (await answer.allHeaders())['content-type'] ?? null;
    }
    // A script's fetch() has been sent by now if one ran: wait for the network to be idle, then read.
    await page.waitForLoadState('networkidle', { timeout: timeoutMs }).catch(() => {});
    result.title = await page.title();
  } catch (error) {
    result.error = error.message.split('\n')[0];
    // Chromium turns an attachment into a download and aborts the navigation (the event may come later).
    if (result.error.includes('Download is starting')) download = true;
  }
  result.download = download;
  await page.close();
  return result;
}

async function main() {
  let request;
  try {
    request = readRequest();
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    process.stderr.write(`open_as_page: ${error.message}\n`);
    return 2;
  }
  const browser = await launchChromium(request.chromium, request.timeoutMs);
  try {
    const context = await browser.newContext({ acceptDownloads: true });
    const origins = [...new Set(request.pages.map((page) => page.url.origin))];
    await context.addCookies(
      origins.flatMap((origin) => request.cookies.map((cookie) => ({ name: cookie.name, value: cookie.value, url: origin }))),
    );
    const requests = [];
    const pages = [];
    for (const target of request.pages) pages.push(await openOne(context, target, request.timeoutMs, requests));
    await context.close();
    process.stdout.write(`${JSON.stringify({ pages, requests })}\n`);
    return 0;
  } finally {
    await browser.close().catch(() => {});
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`open_as_page: ${error.stack ?? error}\n`);
    process.exitCode = 1;
  },
);
