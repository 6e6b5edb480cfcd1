// Takes the README screenshots: runs the real `watch:scale` and `doctor` commands against the
// local fake Kubernetes API (recorded fixtures), and turns their coloured terminal output into
// PNGs with headless Chromium. Run: npx tsx scripts/ops/capture.ts [--out docs/screenshots]
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { loadScenario, type Scenario } from '../../test/fixtures/k8s/index';
import { repoRoot, runCommand, startFakeKubeApi } from '../../test/support/fake-kube-api';
import { ansiToHtml } from './ansi';
import { exitCode, runCommandLine } from './cli';

const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** A scaling story for watch:scale: idle at zero, a request wakes it, it serves, a burst arrives. */
const story: { scenario: Scenario; frames: number }[] = [
  { scenario: 'scaled-to-zero', frames: 4 },
  { scenario: 'cold-start', frames: 3 },
  { scenario: 'healthy', frames: 4 },
  { scenario: 'burst', frames: 3 },
];

async function captureWatch(): Promise<string> {
  const api = await startFakeKubeApi({ objects: loadScenario(story[0]!.scenario) });
  try {
    const total = story.reduce((n, s) => n + s.frames, 0);
    // Frame boundaries: after frame i, switch the cluster to the next scene of the story.
    const switches = new Map<number, Scenario>();
    let at = 0;
    for (const [i, s] of story.entries()) {
      at += s.frames;
      const next = story[i + 1];
      if (next) switches.set(at, next.scenario);
    }
    let frames = 0;
    const { code, stdout, stderr } = await runCommand(
      'scripts/watch-autoscaling.ts',
      ['--env', 'prod', '--color', '--interval', '0.7', '--window', '15s', '--frames', String(total)],
      {
        // Piped, so watch:scale cuts no line: the screenshot shows each line in full.
        env: { KUBECONFIG: api.kubeconfig, NO_COLOR: undefined },
        timeoutMs: 60_000,
        onLine: (line) => {
          // A frame ends with the "refreshing every" footer line.
          if (!line.includes('Ctrl-C to quit')) return;
          frames++;
          const next = switches.get(frames);
          if (next) api.setObjects(loadScenario(next));
        },
      },
    );
    if (code !== 0) throw new Error(`watch:scale exited ${code}: ${stderr}`);
    const last = stdout.split('\x1b[H\x1b[2J').filter(Boolean).at(-1)!;
    return `$ npm run watch:scale -- --env prod\n${last}`;
  } finally {
    await api.close();
  }
}

async function captureDoctor(): Promise<string> {
  const api = await startFakeKubeApi({ objects: loadScenario('revision-failed') });
  try {
    const { code, stdout } = await runCommand('scripts/doctor.ts', ['--env', 'prod', '--color'], {
      env: { KUBECONFIG: api.kubeconfig, NO_COLOR: undefined, COLUMNS: '110' },
    });
    if (code !== 1) throw new Error(`doctor should report the failed revision, exited ${code}`);
    return `$ npm run doctor -- --env prod\n${stdout}`;
  } finally {
    await api.close();
  }
}

function page(terminal: string): string {
  return `<!doctype html><html><head><meta charset="utf-8"><style>
    body { margin: 0; background: #22272e; }
    pre { margin: 0; padding: 18px 22px; display: inline-block; color: #adbac7; background: #22272e;
          font: 13px/1.35 'DejaVu Sans Mono', 'Liberation Mono', monospace; }
  </style></head><body><pre id="t">${ansiToHtml(terminal.trimEnd())}</pre></body></html>`;
}

const help = 'Usage: npx tsx scripts/ops/capture.ts [--out <dir>]\nRenders docs/screenshots/watch-scale.png and doctor.png from the real commands run against recorded fixtures.\n';

runCommandLine({ name: 'capture', help, flags: { out: { type: 'string' } } }, async (values) => {
  const out = values.out ?? join(repoRoot, 'docs', 'screenshots');
  mkdirSync(out, { recursive: true });
  const captures = { 'watch-scale.png': await captureWatch(), 'doctor.png': await captureDoctor() };
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: chromiumArgs });
  try {
    const tab = await browser.newPage({ viewport: { width: 1200, height: 800 }, deviceScaleFactor: 1 });
    for (const [file, terminal] of Object.entries(captures)) {
      await tab.setContent(page(terminal));
      await tab.locator('#t').screenshot({ path: join(out, file) });
      console.log(`wrote ${join(out, file)}`);
    }
  } finally {
    await browser.close();
  }
  return exitCode.ok;
});
