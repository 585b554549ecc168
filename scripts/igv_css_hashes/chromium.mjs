// How the igv.js tools start Debian's headless Chromium through playwright-core (shared by the CSS hash tool
// and the reads-page driver, so both run the browser the same way).

import { readFileSync } from 'node:fs';

import { chromium } from 'playwright-core';

export const DEFAULT_CHROMIUM = '/usr/bin/chromium';

// Flags that keep Debian's Chromium quiet and offline; the sandbox cannot start as root in a container.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Launches headless Chromium at executablePath. playwright-core gives each launch its own fresh temporary
 * user-data-dir and removes it on close. Signal handling is left to the caller: the tools close the browser
 * and their temp folders themselves, and two competing handlers would race.
 *
 * `home` (optional) is the HOME Chromium runs with: on Linux it trusts the certificate authorities of
 * `home/.pki/nssdb` beyond the system's, as a hospital's managed browsers trust its private CA.
 * `hostResolverRules` (optional) is Chromium's --host-resolver-rules, for names only a site's own DNS knows.
 */
export function launchChromium(executablePath, timeoutMs, { home = null, hostResolverRules = null } = {}) {
  const args = hostResolverRules ? [...CHROMIUM_ARGS, `--host-resolver-rules=${hostResolverRules}`] : CHROMIUM_ARGS;
  return chromium.launch({
    executablePath,
    headless: true,
    args,
    env: home ? { ...process.env, HOME: home } : process.env,
    timeout: timeoutMs,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}

/** Bad input on stdin: the drivers print the message and exit with status 2. */
export class InputError extends Error {}

/** The one JSON object a driver reads on stdin (so session cookies never show on a command line). */
export function readJsonObject() {
  let request;
  try {
    request = JSON.parse(readFileSync(0, 'utf8'));
  } catch (error) {
    throw new InputError(`stdin must be one JSON object: ${error.message}`);
  }
  if (typeof request !== 'object' || request === null) throw new InputError('stdin must be a JSON object');
  return request;
}

/** The request's "cookies" (default none), checked to be a list of {"name": string, "value": string}. */
export function checkedCookies(request) {
  const cookies = request.cookies ?? [];
  if (!Array.isArray(cookies) || !cookies.every((c) => typeof c?.name === 'string' && typeof c?.value === 'string')) {
    throw new InputError('"cookies" must be a list of {"name": string, "value": string}');
  }
  return cookies;
}
