/**
 * The Docker engine, the image and docker-compose, as the docker test drives them on these machines: Debian's
 * 20.10 client (`/usr/bin/docker`, BuildKit built in) rather than a newer one without buildx, host networking
 * for everything (traffic is allowed on loopback only), and a local Node base image when the official one
 * cannot be pulled.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from './import-graph.js';

export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
export const IMAGE = 'email-workers:test';
export const COMPOSE_FILES = [
  join(PROJECT_ROOT, 'docker-compose.yml'),
  join(PROJECT_ROOT, 'test/docker/docker-compose.host.yml'),
];
const OFFICIAL_BASE = 'node:20-bookworm-slim';

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end (or `timeoutMs`) with only the environment given (plus PATH and HOME), so the
 * test process's own variables (NODE_ENV=test…) never reach docker-compose's substitution or a container.
 */
export function run(
  command: string,
  args: readonly string[],
  {
    env = {},
    timeoutMs = 120_000,
    input,
  }: { env?: Record<string, string>; timeoutMs?: number; input?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like `run`, but fails with the command's output unless it exits 0. */
export async function runOk(command: string, args: readonly string[], options?: Parameters<typeof run>[2]) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} exited ${result.code}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return result;
}

export const docker = (args: readonly string[], options?: Parameters<typeof run>[2]) =>
  run(DOCKER, args, options);
export const dockerOk = (args: readonly string[], options?: Parameters<typeof run>[2]) =>
  runOk(DOCKER, args, options);

/** Undefined when an engine answers; otherwise why not, in one line. */
export async function engineUnavailable(): Promise<string | undefined> {
  try {
    const info = await run(DOCKER, ['info', '--format', '{{.ServerVersion}}'], { timeoutMs: 20_000 });
    if (info.code === 0 && info.stdout.trim()) return undefined;
    return (info.stderr.trim().split('\n').at(-1) ?? '') || `docker info exited ${info.code}`;
  } catch (error) {
    return `no docker client (${(error as Error).message})`;
  }
}

/** The official base when it is here or can be pulled, else the local one built by test/docker/base-image.sh. */
async function nodeBaseImage(): Promise<string> {
  if ((await docker(['image', 'inspect', OFFICIAL_BASE])).code === 0) return OFFICIAL_BASE;
  if ((await docker(['pull', OFFICIAL_BASE], { timeoutMs: 60_000 })).code === 0) return OFFICIAL_BASE;
  const base = await runOk('sh', [join(PROJECT_ROOT, 'test/docker/base-image.sh'), DOCKER], {
    timeoutMs: 600_000,
  });
  return base.stdout.trim().split('\n').at(-1)!;
}

/**
 * Builds IMAGE with BuildKit (incremental: unchanged layers come from the cache). The machine's npm CA bundle,
 * when npm has one, goes in as the build secret for `npm ci`, as behind any TLS-intercepting proxy.
 */
export async function buildImage(): Promise<{ base: string; seconds: number }> {
  const base = await nodeBaseImage();
  const cafile = (await run('npm', ['config', 'get', 'cafile'])).stdout.trim();
  const secret =
    cafile && cafile !== 'null' && existsSync(cafile) ? ['--secret', `id=npm_ca,src=${cafile}`] : [];
  const started = Date.now();
  await dockerOk(
    ['build', '--network', 'host', '--build-arg', `NODE_IMAGE=${base}`, ...secret, '--tag', IMAGE, '.'],
    { env: { DOCKER_BUILDKIT: '1' }, timeoutMs: 900_000 },
  );
  return { base, seconds: Math.round((Date.now() - started) / 1000) };
}

/** docker-compose with the project's file and the host-network override, reading only `envFile`. */
export function compose(project: string, envFile: string, args: readonly string[], timeoutMs = 180_000) {
  return runOk(
    'docker-compose',
    [
      '--project-name',
      project,
      '--env-file',
      envFile,
      ...COMPOSE_FILES.flatMap((file) => ['-f', file]),
      ...args,
    ],
    { timeoutMs, env: { DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock' } },
  );
}

/** A container's JSON log lines, parsed (other lines, such as the entrypoint's, left out). */
export async function jsonLogs(container: string): Promise<Array<Record<string, unknown>>> {
  const { stdout } = await dockerOk(['logs', container]);
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
