// How the igv.js tools start Debian's headless Chromium through playwright-core (shared by the CSS hash tool
// and the reads-page driver, so both run the browser the same way).

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
 */
export function launchChromium(executablePath, timeoutMs) {
  return chromium.launch({
    executablePath,
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: timeoutMs,
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
}
