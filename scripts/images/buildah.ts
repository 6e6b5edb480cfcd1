// The tools the image commands drive (buildah, debootstrap), and running them.
import { spawn, spawnSync } from 'node:child_process';

/** A command failed; the message names the command and ends with its output. */
export class ToolError extends Error {}

export interface RunOptions {
  /** Print the command's output as it runs (long builds), instead of only on failure. */
  stream?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

/**
 * Runs `command args…` and resolves with its stdout. Rejects with a ToolError that carries the
 * last 4 KB of the combined output when it exits non-zero.
 */
export function run(command: string, args: string[], opts: RunOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d;
      output += d;
      if (opts.stream) process.stdout.write(d);
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d;
      if (opts.stream) process.stderr.write(d);
    });
    child.on('error', (err) => reject(new ToolError(`${command}: ${err.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new ToolError(`\`${command} ${args.join(' ')}\` exited with ${code}${opts.stream ? '' : `:\n${output.slice(-4096)}`}`));
    });
  });
}

export const buildah = (args: string[], opts?: RunOptions) => run('buildah', args, opts);

export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin` } }).status === 0;
}

/**
 * Makes sure this runs as root (debootstrap and buildah's chroot isolation need it) and that
 * buildah and debootstrap are installed, installing the Debian packages with apt-get when they are
 * missing. Throws a ToolError that says what to run instead when that is not possible (not root,
 * no apt-get, or apt failed). `has` and `uid` are for tests.
 */
export async function ensureTools(
  log: (line: string) => void,
  probe: { has?: (command: string) => boolean; uid?: number } = {},
): Promise<void> {
  const has = probe.has ?? commandExists;
  const uid = probe.uid ?? process.getuid?.();
  const missing = ['buildah', 'debootstrap'].filter((c) => !has(c));
  const manual = `sudo apt-get update && sudo apt-get install -y ${missing.join(' ')}`;
  if (uid !== 0) {
    throw new ToolError(
      'npm run images needs root: debootstrap and buildah (chroot isolation, mounting image layers) do. ' +
        (missing.length ? `Install ${missing.join(' and ')} (${manual}), then run` : 'Run') +
        ' it as root, e.g. sudo npm run images.',
    );
  }
  if (missing.length === 0) return;
  if (!has('apt-get')) {
    throw new ToolError(`${missing.join(' and ')} not found and there is no apt-get to install them with. Install them with your package manager (Debian/Ubuntu: ${manual}) and run again.`);
  }
  log(`installing ${missing.join(' ')} with apt-get…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await run('apt-get', ['update', '-qq'], { env });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
  } catch (err) {
    throw new ToolError(`could not install ${missing.join(' ')} with apt-get (try by hand: ${manual}):\n${(err as Error).message}`);
  }
}

/** An image's OCI configuration as buildah stores it, or undefined when there is no such image. */
export interface ImageConfig {
  User?: string;
  WorkingDir?: string;
  Env?: string[];
  Entrypoint?: string[];
  Cmd?: string[];
  StopSignal?: string;
  Labels?: Record<string, string>;
}

export async function inspectImage(ref: string): Promise<ImageConfig | undefined> {
  try {
    const json = JSON.parse(await buildah(['inspect', '--type', 'image', ref])) as { OCIv1?: { config?: ImageConfig } };
    return json.OCIv1?.config ?? {};
  } catch (err) {
    if (err instanceof ToolError && /image not known|not found|no such image/i.test(err.message)) return undefined;
    throw err;
  }
}
