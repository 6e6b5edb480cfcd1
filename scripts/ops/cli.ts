// What the commands in scripts/ share: the command shell (`runCommandLine`: flags and --help, usage
// errors, AWS and cluster problems, exit codes), asking before a change, and the flag value parsers.
// A failure is a sentence on stderr, prefixed with the command's name, and with --json also a JSON
// object for scripts.
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KubeError, errorText } from './kube-error';
import { environments, targetsFor, type OpsTargets } from './targets';

/** Exit codes of every command in scripts/ (each --help says which it uses). */
export const exitCode = {
  ok: 0,
  /** The command did not do what was asked: a check failed, a request failed, the answer was no, an error. */
  problems: 1,
  /** A bad command line. */
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

/**
 * Report a failure and return its exit code: `<command>: <sentence>` on stderr (for a missing AWS
 * region or credentials, the one line naming what to set); after a usage error the command's
 * one-line `usage`, or a pointer to --help; with --json also `{ error: { reason, message } }` on stdout.
 */
export function reportFailure(err: unknown, opts: { json?: boolean; command: string; usage?: string }): number {
  const code = exitCodeFor(err);
  const reason = err instanceof KubeError ? err.reason : err instanceof UsageError ? 'usage' : 'error';
  const message = awsSetupProblem(err) ?? errorText(err);
  if (opts.json) process.stdout.write(`${JSON.stringify({ error: { reason, message } })}\n`);
  // console.error rather than stderr.write: commands run in-process (deploy's tests) capture it.
  console.error(`${opts.command}: ${message}`);
  if (err instanceof UsageError) console.error(opts.usage ?? 'Run with --help for usage.');
  return code;
}

/** What a command tells the shell about itself. */
export interface CommandSpec<O extends Options> {
  /** As typed after `npm run` (`rotate`, `watch:scale`): the prefix of every error line. */
  name: string;
  /** Its flags, for node:util parseArgs (strict: an unknown flag is a usage error); `--help`/`-h` is added. */
  flags: O;
  /** Printed by --help, as is. */
  help: string;
  /** A one-line synopsis printed after a usage error; without it, a pointer to --help. */
  usage?: string;
}

/** The parsed flags a command's body is handed. */
export type CommandArgs<O extends Options> = ReturnType<typeof parseCommandLine<O>>['values'];

/**
 * The command shell every command in scripts/ plugs into: parses `argv` against `spec.flags`, answers
 * --help (exit 0), runs `body` and returns its exit code. Whatever `body` throws is reported once by
 * reportFailure: a UsageError exits 2, a cluster problem 3 or 4 (exitCodeFor), anything else 1; with a
 * `--json` flag set, the error is also JSON on stdout.
 */
export function command<O extends Options>(spec: CommandSpec<O>, body: (args: CommandArgs<O>) => Promise<number> | number): (argv: string[]) => Promise<number> {
  return async (argv) => {
    let json = false;
    try {
      const values = parseCommandLine(argv, spec.flags).values as CommandArgs<O> & { help?: boolean; json?: boolean };
      if (values.help) {
        process.stdout.write(spec.help.endsWith('\n') ? spec.help : `${spec.help}\n`);
        return exitCode.ok;
      }
      json = values.json === true;
      return await body(values);
    } catch (err) {
      return reportFailure(err, { json, command: spec.name, usage: spec.usage });
    }
  };
}

/** `command(spec, body)` run on this process's arguments; exits with its code once stdout has drained. */
export function runCommandLine<O extends Options>(spec: CommandSpec<O>, body: (args: CommandArgs<O>) => Promise<number> | number): void {
  void command(spec, body)(process.argv.slice(2)).then(finish);
}

/**
 * The shell's --help and usage errors, synchronously, for a file whose top level does the work
 * (`npm start`, `npm run bench`) or that must run before anything else is loaded (the image's
 * build stage runs build-functions.ts alone). Exits 0 after --help, 2 on a bad command line;
 * otherwise returns the parsed flags.
 */
export function flagsOrExit<O extends Options>(argv: string[], name: string, help: string, flags: O): CommandArgs<O> {
  try {
    const values = parseCommandLine(argv, flags).values as CommandArgs<O> & { help?: boolean };
    if (!values.help) return values;
    process.stdout.write(help.endsWith('\n') ? help : `${help}\n`);
    process.exit(exitCode.ok);
  } catch (err) {
    process.exit(reportFailure(err, { command: name }));
  }
}

/** {@link flagsOrExit} for a command with no flags: returns when there are no arguments. */
export function noFlags(argv: string[], name: string, help: string): void {
  flagsOrExit(argv, name, help, {});
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
