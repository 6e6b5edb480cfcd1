// npm run watch:scale -- --env <env>: a live view of the API scaling, from the Kubernetes API.
import { wantColor } from './ops/ansi';
import { UsageError, duration, exitCode, runCommandLine, seconds, targetsForEnv } from './ops/cli';
import { connect } from './ops/kube';
import { errorText } from './ops/kube-error';
import { formatScaleView } from './ops/view-scale';
import { ScaleHistory } from './ops/scale-history';
import { takeSnapshot } from './ops/snapshot';
import { environments } from './ops/targets';

// Lines are cut to a terminal's width; piped or redirected output has no width, so nothing is cut.
const terminalWidth = () => (process.stdout.isTTY ? process.stdout.columns || Number(process.env.COLUMNS) || 110 : Infinity);

const help = `Watch the task API (Knative Service) scale, live, from the Kubernetes API.

Usage: npm run watch:scale -- --env <env> [options]

Per revision: traffic split, desired/actual/requested pods (PodAutoscaler and Deployment),
ready and pending pods, Proxy/Serve mode (ServerlessService: Proxy = the activator answers),
a chart of pod count, each pod's start time broken down (scheduled, initialized, containers
ready, ready, first request answered; TOTAL is creation → first request answered, shown as
"≥ creation → ready" until that request is known) and scale events as they happen. Uses the kubeconfig in use (KUBECONFIG or ~/.kube/config).

Options:
  --env <env>          environment: ${environments.join(' | ')} (names come from platform/values-<env>.yaml)
  --context <name>     kubeconfig context to use (default: the current one)
  --namespace <ns>     override the backend namespace from the values
  --service <name>     override the Knative Service name from the values
  --interval <s>       seconds between refreshes (default 2)
  --window <dur>       time span of the pod chart, e.g. 90s, 5m (default 5m)
  --frames <n>         stop after n refreshes (default: until Ctrl-C)
  --once               take one snapshot, print it and exit
  --json               print JSON: with --once one snapshot, otherwise one line per refresh
  --color, --no-color  force colours on or off (default: on for a terminal, off with NO_COLOR)
  -h, --help           show this help

Exit codes: 0 ok, 1 no such service, 2 usage, 3 no cluster / unreachable / credentials rejected,
4 permission denied (403).
`;

runCommandLine(
  {
    name: 'watch:scale',
    help,
    flags: {
      env: { type: 'string' },
      context: { type: 'string' },
      namespace: { type: 'string' },
      service: { type: 'string' },
      interval: { type: 'string' },
      window: { type: 'string' },
      frames: { type: 'string' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
      color: { type: 'boolean' },
      'no-color': { type: 'boolean' },
    },
  },
  async (a) => {
    const json = Boolean(a.json);
    const t = targetsForEnv(a.env);
    const namespace = a.namespace ?? t.api.namespace;
    const service = a.service ?? t.api.service;
    const intervalMs = seconds(a.interval, '--interval', 2) * 1000;
    const windowMs = duration(a.window, '--window', 5 * 60_000);
    const frames = a.frames === undefined ? Infinity : Number(a.frames);
    if (!Number.isInteger(frames) && frames !== Infinity) throw new UsageError(`--frames must be a whole number, got "${a.frames}"`);
    const color = a['no-color'] ? false : a.color ? true : wantColor(process.stdout);
    const kube = connect({ context: a.context });

    if (a.once) {
      const snap = await takeSnapshot(kube, namespace, service);
      process.stdout.write(
        json
          ? `${JSON.stringify(snap, null, 2)}\n`
          : `${formatScaleView(snap, { env: t.env, color, width: terminalWidth(), windowMs, samples: [], events: [] })}\n`,
      );
      return exitCode.ok;
    }

    // Live: the first snapshot must work (so a wrong context fails fast); later errors are
    // shown above the last good picture and retried, as a cluster hiccup should not end the watch.
    const history = new ScaleHistory(windowMs);
    let last = await takeSnapshot(kube, namespace, service);
    let error: string | undefined;
    let stop = false;
    process.once('SIGINT', () => (stop = true));
    for (let frame = 1; ; frame++) {
      const fresh = error ? [] : history.add(last);
      if (json) {
        process.stdout.write(`${JSON.stringify(error ? { error: { message: error } } : { snapshot: last, events: fresh })}\n`);
      } else {
        const view = formatScaleView(last, { env: t.env, color, width: terminalWidth(), windowMs, intervalMs, samples: history.samples, events: history.events, earlierStarts: [...history.starts.values()], ...(error ? { error } : {}) });
        process.stdout.write(`\x1b[H\x1b[2J${view}\n`);
      }
      if (frame >= frames || stop) return exitCode.ok;
      await sleep(intervalMs, () => stop);
      if (stop) return exitCode.ok;
      try {
        last = await takeSnapshot(kube, namespace, service);
        error = undefined;
      } catch (err) {
        error = errorText(err);
      }
    }
  },
);

function sleep(ms: number, stopped: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    const started = Date.now();
    const tick = () => (stopped() || Date.now() - started >= ms ? resolve() : setTimeout(tick, Math.min(100, ms)));
    tick();
  });
}

