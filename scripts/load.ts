// npm run load -- --url <url> --rps <n> --duration <dur>: bounded load to watch the API scale.
import { UsageError, duration, exitCode, runCommandLine } from './ops/cli';
import { formatProgress, formatSummary, limits, runLoad, validateLoad } from './ops/load';

const help = `Send bounded HTTP load to the task API and summarise the latency.

Usage: npm run load -- --url <url> [--rps <n>] [--concurrency <n>] [--duration <dur>] [options]

Prints one progress line per second (requests/s, p50/p99 of that second) and a summary at the
end. Run it next to \`npm run watch:scale -- --env <env>\` to watch pods come and go.

The API is cluster-local. From a workstation, port-forward the Kourier gateway and send the
Knative host name and the internal token nginx would add:
  kubectl port-forward -n kourier-system svc/kourier-internal 8081:80
  npm run load -- --url http://127.0.0.1:8081/api/tasks --rps 200 --duration 2m \\
    --header "Host: tasks-api.<backend ns>.svc.cluster.local" \\
    --header "X-Internal-Token: $(kubectl get secret internal-token -n <backend ns> -o jsonpath='{.data.token}' | base64 -d)"

Options:
  --url <url>          what to request (required), e.g. http://127.0.0.1:8080/api/tasks
  --rps <n>            target requests per second (1-${limits.maxRps}); without it, as fast as answers come
  --concurrency <n>    requests in flight at most (1-${limits.maxConcurrency}, default 10)
  --duration <dur>     how long, e.g. 30s, 2m (default 30s, at most ${limits.maxDurationS / 60}m)
  --method <m>         HTTP method (default GET)
  --header "K: V"      extra request header; repeat for more (e.g. the internal token header)
  --body <text>        request body (with --method POST and --header "content-type: application/json")
  --timeout <s>        per-request timeout in seconds (default 30: a cold start is not an error)
  --json               print the summary as JSON (progress goes to stderr)
  -h, --help           show this help

Exit codes: 0 done and every response 2xx, 1 some requests failed or were not 2xx, 2 usage.
`;

runCommandLine(
  {
    name: 'load',
    help,
    flags: {
      url: { type: 'string' },
      rps: { type: 'string' },
      concurrency: { type: 'string' },
      duration: { type: 'string' },
      method: { type: 'string' },
      header: { type: 'string', multiple: true },
      body: { type: 'string' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    },
  },
  async (a) => {
    const headers: Record<string, string> = {};
    for (const h of a.header ?? []) {
      const i = h.indexOf(':');
      if (i <= 0) throw new UsageError(`--header must look like "Name: value", got "${h}"`);
      headers[h.slice(0, i).trim()] = h.slice(i + 1).trim();
    }
    const options = {
      url: a.url ?? '',
      ...(a.rps !== undefined ? { rps: Number(a.rps) } : {}),
      concurrency: a.concurrency !== undefined ? Number(a.concurrency) : 10,
      durationS: duration(a.duration, '--duration', 30_000) / 1000,
      method: a.method?.toUpperCase() ?? 'GET',
      headers,
      ...(a.body !== undefined ? { body: a.body } : {}),
      ...(a.timeout !== undefined ? { timeoutS: Number(a.timeout) } : {}),
    };
    const problems = validateLoad(options);
    if (problems.length) throw new UsageError(problems.join('; '));

    const progress = a.json ? process.stderr : process.stdout;
    const rate = options.rps ? `${options.rps} req/s` : 'as fast as possible';
    progress.write(`${options.method} ${options.url}: ${rate}, up to ${options.concurrency} in flight, for ${options.durationS}s (Ctrl-C stops early)\n`);
    const controller = new AbortController();
    process.once('SIGINT', () => controller.abort());
    const summary = await runLoad(options, (p) => progress.write(`${formatProgress(p, options.durationS)}\n`), controller.signal);
    process.stdout.write(a.json ? `${JSON.stringify(summary, null, 2)}\n` : `\n${formatSummary(summary)}\n`);
    return summary.errors === 0 && summary.non2xx === 0 && summary.requests > 0 ? exitCode.ok : exitCode.problems;
  },
);
