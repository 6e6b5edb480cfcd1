// What the commands in scripts/ share: argument parsing with --help, exit codes, asking before a
// change, and how a failure to talk to the cluster or to AWS is reported (a sentence on stderr,
// and a JSON object for scripts).
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KubeError, errorText } from './kube-error';
import { environments, targetsFor, type OpsTargets } from './targets';

/** Exit codes of watch:scale and doctor (documented in their --help). */
export const exitCode = {
  ok: 0,
  /** doctor: a check failed or could not run; watch:scale: no such service. */
  problems: 1,
  usage: 2,
  /** No kubeconfig, cluster unreachable, or credentials rejected. */
  noCluster: 3,
  /** The API server answered 403. */
  forbidden: 4,
} as const;

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** parseArgs plus --help; unknown flags and missing values become a UsageError. */
export function parseCommandLine<O extends Options>(argv: string[], options: O) {
  try {
    return parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError(errorText(err));
  }
}

/** The targets for the --env flag; a missing or unknown environment is a usage error. */
export function targetsForEnv(env: string | undefined): OpsTargets {
  if (!env) throw new UsageError(`--env is required (${environments.join(', ')})`);
  try {
    return targetsFor(env);
  } catch (err) {
    throw new UsageError(errorText(err));
  }
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return exitCode.usage;
  if (err instanceof KubeError) {
    switch (err.reason) {
      case 'no-config':
      case 'unreachable':
      case 'unauthorized':
        return exitCode.noCluster;
      case 'forbidden':
        return exitCode.forbidden;
      default:
        return exitCode.problems;
    }
  }
  return exitCode.problems;
}

/** Report a failure: the sentence on stderr; with --json also `{ error: { reason, message } }` on stdout. */
export function reportFailure(err: unknown, opts: { json?: boolean; command: string }): number {
  const code = exitCodeFor(err);
  const reason = err instanceof KubeError ? err.reason : err instanceof UsageError ? 'usage' : 'error';
  const message = errorText(err);
  if (opts.json) process.stdout.write(`${JSON.stringify({ error: { reason, message } })}\n`);
  process.stderr.write(`${opts.command}: ${message}\n`);
  if (err instanceof UsageError) process.stderr.write(`Run with --help for usage.\n`);
  return code;
}

/**
 * For commands that take no flags: `--help` prints `help` and exits 0; any other argument is a usage
 * error (exit 2) rather than silently ignored. Returns when there are no arguments.
 */
export function noFlags(argv: string[], command: string, help: string): void {
  try {
    if (!parseCommandLine(argv, {}).values.help) return;
    process.stdout.write(help);
    process.exit(exitCode.ok);
  } catch (err) {
    process.stderr.write(`${command}: ${errorText(err)}\nRun with --help for usage.\n`);
    process.exit(exitCode.usage);
  }
}

/** Parse a positive number of seconds ("2", "0.5"). */
export function seconds(text: string | undefined, flag: string, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} must be a positive number of seconds, got "${text}"`);
  return n;
}

/** Ask a yes/no question on the terminal; only y or yes is yes, and a closed stdin is no. */
export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await Promise.race([rl.question(`${question} [y/N] `), new Promise<string>((r) => rl.once('close', () => r('')))]);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

/**
 * The one line to print when the AWS SDK cannot start for want of a region or credentials, naming
 * what to set; undefined for any other error. The SDK's own messages ("Region is missing", "Could not
 * load credentials from any providers") do not say where either comes from.
 */
export function awsSetupProblem(error: unknown): string | undefined {
  const e = error as { name?: string; message?: string } | undefined;
  if (e?.message === 'Region is missing') return 'no AWS region: pass --region <region> or set AWS_REGION';
  if (e?.name === 'CredentialsProviderError') {
    return 'no AWS credentials: set AWS_PROFILE (after `aws sso login` or `aws configure`), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
  }
  return undefined;
}

/** Parse "90s", "5m", "1h" (or bare seconds) into milliseconds. */
export function duration(text: string | undefined, flag: string, fallbackMs: number): number {
  if (text === undefined) return fallbackMs;
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`${flag} must be a duration like 30s, 5m or 1h, got "${text}"`);
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const ms = unit === 'ms' ? n : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n * 3_600_000;
  if (ms <= 0) throw new UsageError(`${flag} must be positive`);
  return ms;
}

/** Print and exit once stdout has drained (process.exit right after a large write can cut it). */
export function finish(code: number): void {
  process.exitCode = code;
  process.stdout.write('', () => process.exit(code));
}
