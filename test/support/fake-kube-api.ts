// A local HTTP server that answers like a Kubernetes API server for a fixed set of objects:
// get and list (with label selectors) on the core and group paths, /version, bearer-token auth,
// and 401/403/404 as Kubernetes Status objects. Enough for the ops commands to run unchanged,
// pointed at it through a generated kubeconfig (`runCommand` runs them as child processes).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { type Kind, type KubeObject, kinds } from '../../scripts/ops/kube';
import { kindOf, matchesSelector, recordedAt, shiftTimes } from '../fixtures/k8s/index';

export interface FakeKubeApiOptions {
  objects: KubeObject[];
  /** Kinds (optionally in one namespace) answered with 403. */
  forbidden?: { kind: Kind; namespace?: string }[];
  /** Move the fixtures' times so that `recordedAt` becomes the moment the server starts (default true). */
  shiftToNow?: boolean;
  token?: string;
  /** Container logs by pod name (fixtureLogs()), served at `.../pods/<name>/log` as text, their times shifted like the objects'. */
  logs?: Record<string, string>;
}

export interface FakeKubeApi {
  url: string;
  port: number;
  /** A kubeconfig file pointing at this server; pass it as KUBECONFIG. */
  kubeconfig: string;
  /** Paths requested so far, e.g. `GET /api/v1/namespaces/backend/pods?labelSelector=...`. */
  requests: string[];
  /** Replace the served objects (times are shifted like the initial ones). */
  setObjects(objects: KubeObject[]): void;
  close(): Promise<void>;
}

const USER = 'system:serviceaccount:ops:viewer';

function status(res: ServerResponse, code: number, reason: string, message: string, details?: Record<string, string>) {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      ...(details ? { details } : {}),
      code,
    }),
  );
}

/** Which kind a request path is for: `/api/v1/...` is the core group, `/apis/<group>/<version>/...` the rest. */
function route(path: string): { kind: Kind; namespace: string; name?: string } | undefined {
  const parts = path.split('/').filter(Boolean);
  let group = '';
  let version: string;
  let rest: string[];
  if (parts[0] === 'api') [version, rest] = [parts[1]!, parts.slice(2)];
  else if (parts[0] === 'apis') [group, version, rest] = [parts[1]!, parts[2]!, parts.slice(3)];
  else return undefined;
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 3) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  const [plural, name, ...extra] = rest;
  if (!plural || extra.length) return undefined;
  for (const [kind, k] of Object.entries(kinds)) {
    if (k.group === group && k.version === version && k.plural === plural) {
      return { kind: kind as Kind, namespace, ...(name ? { name } : {}) };
    }
  }
  return undefined;
}

export async function startFakeKubeApi(options: FakeKubeApiOptions): Promise<FakeKubeApi> {
  const token = options.token ?? 'fake-token';
  // The logs' times move with the objects last served, so a pod's conditions and its log agree.
  let shiftMs = 0;
  const shift = (objs: KubeObject[]) => (options.shiftToNow === false ? objs : shiftTimes(objs, (shiftMs = Date.now() - recordedAt)));
  let objects = shift(options.objects);
  const requests: string[] = [];

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (req.headers.authorization !== `Bearer ${token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    if (req.method !== 'GET') return status(res, 405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
    if (url.pathname === '/version' || url.pathname === '/version/') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ major: '1', minor: '33', gitVersion: 'v1.33.2', platform: 'linux/amd64' }));
    }
    const log = /^\/api\/v1\/namespaces\/[^/]+\/pods\/([^/]+)\/log$/.exec(url.pathname);
    if (log) {
      const text = options.logs?.[log[1]!];
      if (text === undefined) return status(res, 400, 'BadRequest', `container "${url.searchParams.get('container')}" in pod "${log[1]}" is waiting to start: ContainerCreating`);
      const shifted = options.shiftToNow === false ? text : text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, (t) => new Date(Date.parse(t) + shiftMs).toISOString());
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.end(Buffer.from(shifted).subarray(0, Number(url.searchParams.get('limitBytes') ?? Infinity)));
    }
    const r = route(url.pathname);
    if (!r) return status(res, 404, 'NotFound', 'the server could not find the requested resource');
    const k = kinds[r.kind];
    const resource = k.group ? `${k.plural}.${k.group}` : k.plural;
    const verb = r.name ? 'get' : 'list';
    if (options.forbidden?.some((f) => f.kind === r.kind && (!f.namespace || f.namespace === r.namespace))) {
      return status(
        res,
        403,
        'Forbidden',
        `${resource}${r.name ? ` "${r.name}"` : ''} is forbidden: User "${USER}" cannot ${verb} resource "${k.plural}" in API group "${k.group}"${r.namespace ? ` in the namespace "${r.namespace}"` : ' at the cluster scope'}`,
        { ...(r.name ? { name: r.name } : {}), group: k.group, kind: k.plural },
      );
    }
    const inScope = objects.filter((o) => kindOf(o) === r.kind && (!k.namespaced || o.metadata.namespace === r.namespace));
    if (r.name) {
      const found = inScope.find((o) => o.metadata.name === r.name);
      if (!found) return status(res, 404, 'NotFound', `${resource} "${r.name}" not found`, { name: r.name, group: k.group, kind: k.plural });
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(found));
    }
    const items = inScope.filter((o) => matchesSelector(o, url.searchParams.get('labelSelector') ?? undefined));
    const kindName = r.kind === 'KnativeService' ? 'Service' : r.kind;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: `${kindName}List`, apiVersion: k.group ? `${k.group}/${k.version}` : k.version, metadata: { resourceVersion: '931999' }, items }));
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const dir = mkdtempSync(join(tmpdir(), 'fake-kube-'));
  const kubeconfig = writeKubeconfig(dir, { server: url, token });

  return {
    url,
    port,
    kubeconfig,
    requests,
    setObjects(next) {
      objects = shift(next);
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A kubeconfig with one context; plain http needs insecure-skip-tls-verify in client-node. */
export function writeKubeconfig(dir: string, o: { server: string; token: string; context?: string }): string {
  const context = o.context ?? 'fixtures';
  const file = join(dir, 'kubeconfig');
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: o.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'viewer', user: { token: o.token } }],
      contexts: [{ name: context, context: { cluster: 'fake', user: 'viewer' } }],
      'current-context': context,
    }),
  );
  return file;
}

// Run one of the project's TypeScript commands as a real child process (node + tsx), the way
// `npm run <script>` would, and collect its output and exit code.
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Called with each complete stdout line as it arrives (for live commands). */
  onLine?: (line: string, index: number) => void;
}

/**
 * Run `scripts/<file>` with args. HOME points at an empty directory so a developer's own
 * ~/.kube/config can never leak into a test; pass KUBECONFIG in `env` to give it a cluster.
 */
export function runCommand(script: string, args: string[], options: RunOptions = {}): Promise<CommandResult> {
  const home = mkdtempSync(join(tmpdir(), 'ops-home-'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...process.env, HOME: home, NO_COLOR: '1', KUBECONFIG: undefined, FORCE_COLOR: undefined, ...options.env })) {
    if (v !== undefined) env[k] = v;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, script), ...args], { cwd: repoRoot, env });
    let stdout = '';
    let stderr = '';
    let pending = '';
    let lines = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!options.onLine) return;
      pending += chunk;
      for (let i = pending.indexOf('\n'); i >= 0; i = pending.indexOf('\n')) {
        options.onLine(pending.slice(0, i), lines++);
        pending = pending.slice(i + 1);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} ${args.join(' ')} did not finish within ${options.timeoutMs ?? 45_000} ms\n${stderr}`));
    }, options.timeoutMs ?? 45_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(home, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}
