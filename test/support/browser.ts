import axe from 'axe-core';
import { chromium, type Browser, type Page } from 'playwright-core';

/** The machine's Chromium (Debian package `chromium`; the test setup installs it when missing). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The machine's Chromium; nothing is downloaded. Each launch gets a fresh profile. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    // No sandbox: CI runs as root. The rest keeps Chromium off the network it has no business with.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface PageProblems {
  /** Console errors, uncaught exceptions and CSP violations seen so far. */
  list: string[];
}

/** Collects what would show up in red in the browser console, so a test can demand there is none. */
export function watchProblems(page: Page): PageProblems {
  const problems: PageProblems = { list: [] };
  page.on('pageerror', (err) => problems.list.push(`exception: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.list.push(`console: ${msg.text()}`);
  });
  return problems;
}

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/** The serious and critical violations of axeViolations. */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  return (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/**
 * Runs axe-core in the page and returns every violation (WCAG 2.1 A and AA, best practice), whatever
 * its impact. The script goes in through the DevTools protocol (page.evaluate), which the page's CSP
 * does not govern.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(axe.source);
  const violations = await page.evaluate(async () => {
    const result = await (window as unknown as { axe: typeof axe }).axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
    });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      targets: v.nodes.map((n) => String(n.target)),
    }));
  });
  return violations;
}
