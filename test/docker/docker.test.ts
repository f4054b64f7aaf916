/**
 * The container, proved rather than read (`npm run test:docker`, run by .ci/run).
 *
 * Everywhere: shellcheck, `docker-compose config`, the compose file, Dockerfile and .dockerignore checked for what
 * the README promises, and entrypoint.sh run directly against the real Redis and PostgreSQL. Where a Docker
 * engine answers: the image is built (from a local Node base when the official one cannot be pulled) and run
 * against the machine's Redis and PostgreSQL and an SMTP server of the test's, alone and as
 * `docker-compose up --scale workers=3`, every container on the host's network.
 *
 * Checks named "(issue 9)" need the workers' health endpoints and the monitor, which land with issue 9.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { CONFIG_VARIABLES } from '../../src/config.js';
import {
  COMPOSE_FILES,
  compose,
  docker,
  dockerOk,
  engineUnavailable,
  IMAGE,
  buildImage,
  jsonLogs,
  run,
} from '../helpers/docker.js';
import { PROJECT_ROOT } from '../helpers/import-graph.js';
import { recipientOf } from '../helpers/jobs.js';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { removePrefix, TEST_REDIS_URL, uniquePrefix } from '../helpers/redis.js';
import { closedPort, startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';

const read = (path: string) => readFileSync(join(PROJECT_ROOT, path), 'utf8');
const scratch = mkdtempSync(join(tmpdir(), 'email-workers-docker-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A file only the test's containers and processes read (mode 0644 in a folder they can reach). */
function scratchFile(name: string, content: string): string {
  const path = join(scratch, name);
  writeFileSync(path, content);
  chmodSync(path, 0o644);
  chmodSync(scratch, 0o755);
  return path;
}

type ComposeService = {
  image?: string;
  command?: string[];
  container_name?: string;
  ports?: unknown[];
  environment?: Record<string, string | null>;
  restart?: string;
  stop_grace_period?: string;
  mem_limit?: string | number;
  cpus?: number | string;
  network_mode?: string;
  volumes?: Array<{ target: string } | string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
};

/** The compose file as docker-compose resolves it (anchors merged, variables substituted). */
async function resolvedCompose(files: readonly string[], env: Record<string, string>) {
  const envFile = scratchFile(`resolve-${Math.random().toString(36).slice(2)}.env`, envText(env));
  const result = await run('docker-compose', [
    '--env-file',
    envFile,
    ...files.flatMap((file) => ['-f', file]),
    'config',
  ]);
  return {
    ...result,
    services: result.code === 0 ? (parseYaml(result.stdout).services as Record<string, ComposeService>) : {},
  };
}

const envText = (env: Record<string, string>) =>
  Object.entries(env)
    .map(([name, value]) => `${name}=${value}`)
    .join('\n') + '\n';

const seconds = (duration: string | undefined) => {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration ?? '');
  return match ? Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0) : NaN;
};

describe('the deployment files', () => {
  it('entrypoint.sh and the base-image script pass shellcheck', async () => {
    const result = await run('shellcheck', ['entrypoint.sh', 'test/docker/base-image.sh']);
    expect(result.stdout + result.stderr).toBe('');
    expect(result.code).toBe(0);
  });

  it('docker-compose config validates the compose file, and refuses it without DB_PASSWORD', async () => {
    const valid = await resolvedCompose(COMPOSE_FILES.slice(0, 1), { DB_PASSWORD: 'x' });
    expect(valid.stderr).not.toMatch(/error|invalid/i);
    expect(valid.code).toBe(0);
    const withOverride = await resolvedCompose(COMPOSE_FILES, { DB_PASSWORD: 'x' });
    expect(withOverride.code).toBe(0);
    const missing = await resolvedCompose(COMPOSE_FILES.slice(0, 1), {});
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('set DB_PASSWORD in .env');
  });

  it('lets workers scale: no container name, no host port, a grace period longer than the shutdown timeout', async () => {
    const { services } = await resolvedCompose(COMPOSE_FILES.slice(0, 1), { DB_PASSWORD: 'x' });
    const workers = services.workers!;
    expect(workers.container_name).toBeUndefined();
    expect(workers.ports ?? []).toEqual([]);
    expect(workers.command).toEqual(['workers']);
    expect(workers.restart).toBe('unless-stopped');
    expect(workers.mem_limit).toBeTruthy();
    expect(Number(workers.cpus)).toBeGreaterThan(0);
    // Longer than SHUTDOWN_TIMEOUT_MS plus the 2 s closing takes, so Docker never has to kill a draining worker.
    const shutdownS = Number(workers.environment!.SHUTDOWN_TIMEOUT_MS) / 1000;
    expect(seconds(workers.stop_grace_period)).toBeGreaterThan(shutdownS + 2);
    expect(workers.environment!.HEALTH_PORT).toBe('8004');
    expect(workers.depends_on).toEqual({ migrate: { condition: 'service_completed_successfully' } });
    expect(workers.environment!.NODE_OPTIONS).toBe('--max-old-space-size=128');
  });

  it('runs migrate once before the workers and the monitor, and the monitor on 5555', async () => {
    const { services } = await resolvedCompose(COMPOSE_FILES.slice(0, 1), { DB_PASSWORD: 'x' });
    expect(services.migrate).toMatchObject({
      command: ['migrate'],
      restart: 'no',
      depends_on: { redis: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } },
    });
    expect(services.monitor).toMatchObject({
      command: ['monitor'],
      depends_on: { migrate: { condition: 'service_completed_successfully' } },
    });
    expect(JSON.stringify(services.monitor!.ports)).toMatch(/[:"]5555(\/tcp)?"/);
  });

  it('keeps Redis to disk every second and never evicting, PostgreSQL on a volume, both with health checks', async () => {
    const { services } = await resolvedCompose(COMPOSE_FILES.slice(0, 1), { DB_PASSWORD: 'x' });
    const redis = services.redis!;
    expect(redis.command!.join(' ')).toMatch(/--appendonly yes/);
    expect(redis.command!.join(' ')).toMatch(/--appendfsync everysec/);
    expect(redis.command!.join(' ')).toMatch(/--maxmemory-policy noeviction/);
    expect(JSON.stringify(redis.volumes)).toContain('/data');
    expect(redis.healthcheck?.test).toContain('ping');
    const postgres = services.postgres!;
    expect(JSON.stringify(postgres.volumes)).toContain('/var/lib/postgresql/data');
    expect(postgres.healthcheck?.test.join(' ')).toContain('pg_isready');
    expect(JSON.stringify(services.mailpit!.ports)).toMatch(/[:"]8025(\/tcp)?"/);
  });

  it('passes every configuration variable through to the service', async () => {
    const { services } = await resolvedCompose(COMPOSE_FILES.slice(0, 1), { DB_PASSWORD: 'x' });
    for (const name of ['migrate', 'workers', 'monitor']) {
      const passed = Object.keys(services[name]!.environment!);
      expect(
        CONFIG_VARIABLES.filter((variable) => !passed.includes(variable)),
        name,
      ).toEqual([]);
    }
  });

  it('(issue 9) passes nothing to the service that the service does not read', async () => {
    const { services } = await resolvedCompose(COMPOSE_FILES.slice(0, 1), { DB_PASSWORD: 'x' });
    const readByEntrypointOrNode = ['WAIT_TIMEOUT', 'NODE_OPTIONS'];
    const passed = Object.keys(services.workers!.environment!);
    expect(
      passed.filter((name) => !CONFIG_VARIABLES.includes(name) && !readByEntrypointOrNode.includes(name)),
    ).toEqual([]);
  });

  it('the test override puts every service on the host network', async () => {
    const { services } = await resolvedCompose(COMPOSE_FILES, { DB_PASSWORD: 'x' });
    expect(Object.entries(services).filter(([, service]) => service.network_mode !== 'host')).toEqual([]);
  });

  it('.env.example documents the variables docker-compose.yml substitutes and the entrypoint reads', () => {
    const substituted = [...read('docker-compose.yml').matchAll(/(?<!\$)\$\{([A-Z][A-Z0-9_]*)/g)].map(
      (m) => m[1]!,
    );
    const dockerSection = read('.env.example').split(/^# ── Docker /m)[1] ?? '';
    const listed = [...dockerSection.matchAll(/^#?\s?([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]!);
    const expected = new Set(
      [...substituted, 'WAIT_TIMEOUT'].filter((name) => !CONFIG_VARIABLES.includes(name)),
    );
    expect(listed.sort()).toEqual([...expected].sort());
  });

  it('Dockerfile: two stages on a swappable base, non-root, tini, a health check, no secret in a layer', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
    expect(dockerfile.match(/^FROM \$\{NODE_IMAGE\} AS \w+$/gm)!.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    expect(dockerfile).toMatch(/^USER emails$/m);
    expect(dockerfile).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "entrypoint.sh"\]$/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK .*"entrypoint.sh", "healthcheck"/m);
    expect(read('entrypoint.sh')).toContain('/health/ready');
    for (const folder of ['templates', 'migrations', 'packages/client/schemas'])
      expect(dockerfile).toContain(`COPY ${folder} ./${folder}`);
    // The CA bundle is a BuildKit secret: mounted for one RUN, never COPY'd.
    expect(dockerfile).toMatch(/--mount=type=secret,id=npm_ca/);
    expect(dockerfile).not.toMatch(/^COPY .*(\.env|\.pem|\.crt|npm_ca)/m);
  });

  it('.dockerignore keeps node_modules, var/, tests, .git and .env out of the build', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const pattern of ['**/node_modules', 'var', 'test', '.git', '.env'])
      expect(ignored).toContain(pattern);
  });
});

describe('entrypoint.sh, run directly against the real services', () => {
  // The script as the image runs it, with the CLI from source (tsx) instead of /app/dist.
  const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const entrypoint = (args: string[], env: Record<string, string> = {}) =>
    run('sh', ['entrypoint.sh', ...args], {
      env: {
        EMAIL_WORKERS_CLI: join(PROJECT_ROOT, 'src/cli/start-workers.ts'),
        NODE_OPTIONS: `--import ${TSX}`,
        TMPDIR: scratch,
        NODE_ENV: 'test',
        EMBEDDED_DATABASE: 'false',
        ...env,
      },
    });

  it('--help prints the usage without waiting for anything', async () => {
    const result = await entrypoint(['--help'], { REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    expect(result.stdout).toContain('Usage: start-workers');
    expect(result.code).toBe(0);
  });

  it('says in one line that ZERO_TOKEN is not used, and does not pass it on', async () => {
    const result = await entrypoint(['sh', '-c', 'echo "${ZERO_TOKEN:-unset}"'], { ZERO_TOKEN: 'zt-123' });
    expect(result.stdout.trim()).toBe('unset');
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/ZERO_TOKEN is set but not used.*_FILE/),
    ]);
  });

  it('reads NAME_FILE into NAME, and refuses both at once', async () => {
    const secret = scratchFile('smtp_password', 's3cret with spaces\n');
    const read = await entrypoint(
      ['sh', '-c', 'printf "%s|%s" "$SMTP_PASSWORD" "${SMTP_PASSWORD_FILE-unset}"'],
      {
        SMTP_PASSWORD_FILE: secret,
      },
    );
    expect(read.stdout).toBe('s3cret with spaces|unset');
    const both = await entrypoint(['true'], { SMTP_PASSWORD_FILE: secret, SMTP_PASSWORD: 'x' });
    expect(both.code).toBe(1);
    expect(both.stderr).toContain('both SMTP_PASSWORD and SMTP_PASSWORD_FILE are set');
    const missing = await entrypoint(['true'], { DB_PASSWORD_FILE: join(scratch, 'nothing-here') });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('DB_PASSWORD_FILE: cannot read');
  });

  it('waits for Redis up to WAIT_TIMEOUT, then says which service did not answer and starts nothing', async () => {
    const port = await closedPort();
    const started = Date.now();
    const result = await entrypoint([], { REDIS_URL: `redis://127.0.0.1:${port}`, WAIT_TIMEOUT: '2' });
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_000);
    expect(result.stderr).toContain(
      `Redis (redis://127.0.0.1:${port}) did not answer within 2 s (WAIT_TIMEOUT)`,
    );
    expect(result.stderr).not.toContain('starting start-workers');
  });

  it('waits for PostgreSQL too, naming it', async () => {
    const port = await closedPort();
    const result = await entrypoint(['migrate'], {
      REDIS_URL: TEST_REDIS_URL,
      DATABASE_URL: `postgres://postgres@127.0.0.1:${port}/test`,
      WAIT_TIMEOUT: '1',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`PostgreSQL (127.0.0.1:${port}/test) did not answer within 1 s`);
  });

  it('migrate applies the migrations against the real PostgreSQL', async () => {
    const db = await createTestSchema('entrypoint');
    try {
      const env = { REDIS_URL: TEST_REDIS_URL, DATABASE_URL: TEST_DATABASE_URL, LEDGER_SCHEMA: db.schema };
      const first = await entrypoint(['migrate'], env);
      expect(first.stdout).toMatch(new RegExp(`applied 0001_\\w+.* to schema ${db.schema}`));
      expect(first.code).toBe(0);
      expect((await entrypoint(['migrate'], env)).stdout).toContain(`schema ${db.schema} is up to date`);
    } finally {
      await db.drop();
    }
  });

  it('healthcheck asks the health URL of the mode that started; HEALTH_PORT=auto picks a free port', async () => {
    let status = 200;
    const server: Server = createServer((request, response) => {
      response.statusCode = request.url === '/health/ready' ? status : 404;
      response.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const port = (server.address() as AddressInfo).port;
      await entrypoint(['--help'], { HEALTH_PORT: String(port) });
      const healthy = await entrypoint(['healthcheck']);
      expect(healthy.stdout.trim()).toBe(`http://127.0.0.1:${port}/health/ready: 200`);
      expect(healthy.code).toBe(0);
      status = 503;
      expect((await entrypoint(['healthcheck'])).code).toBe(1);

      const auto = await entrypoint(['--help'], { HEALTH_PORT: 'auto' });
      const url = readFileSync(join(scratch, 'email-workers-health-url'), 'utf8').trim();
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/health\/ready$/);
      expect(auto.stderr).toContain(`HEALTH_PORT=auto: health endpoints on port ${/:(\d+)\//.exec(url)![1]}`);
    } finally {
      server.close();
    }
  });
});

const unavailable = await engineUnavailable();
if (unavailable) {
  console.warn(
    `\nNO DOCKER ENGINE: ${unavailable}\nThe image, docker run and docker-compose checks did not run here; ` +
      'the static checks above did.\n',
  );
}
/** The checks that need an engine are declared only where one runs; elsewhere the warning above says so. */
const describeInEngine: (name: string, body: () => void) => void = unavailable ? () => undefined : describe;

describeInEngine('the image, in a real Docker engine', () => {
  const common = () => ({
    NODE_ENV: 'production',
    REDIS_URL: TEST_REDIS_URL,
    DATABASE_URL: TEST_DATABASE_URL,
    FROM_ADDRESS: 'bookings@events.example.com',
  });
  const envArgs = (env: Record<string, string>) =>
    Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  const dockerRun = (args: string[], env: Record<string, string> = {}, command: string[] = []) =>
    docker(['run', '--rm', '--network', 'host', ...envArgs(env), ...args, IMAGE, ...command]);

  beforeAll(async () => {
    const { base, seconds: buildS } = await buildImage();
    const size = Number((await dockerOk(['image', 'inspect', IMAGE, '--format', '{{.Size}}'])).stdout);
    console.log(`image ${IMAGE}: ${Math.round(size / 1e6)} MB, from ${base}, built in ${buildS} s`);
  }, 900_000);

  it('runs as a non-root user', async () => {
    expect((await dockerOk(['image', 'inspect', IMAGE, '--format', '{{.Config.User}}'])).stdout.trim()).toBe(
      'emails',
    );
    expect((await dockerRun([], {}, ['id', '-u'])).stdout.trim()).toBe('10001');
  });

  it('--help prints the usage', async () => {
    const result = await dockerRun([], {}, ['--help']);
    expect(result.stdout).toContain('Usage: start-workers');
    expect(result.code).toBe(0);
  });

  it('migrate applies the migrations and exits 0', async () => {
    const db = await createTestSchema('image');
    try {
      const env = { ...common(), SMTP_HOST: '127.0.0.1', LEDGER_SCHEMA: db.schema };
      const result = await dockerRun([], env, ['migrate']);
      expect(result.stdout).toMatch(new RegExp(`applied 0001_\\w+.* to schema ${db.schema}`));
      expect(result.code).toBe(0);
    } finally {
      await db.drop();
    }
  });

  it('reads a Docker secret from NAME_FILE', async () => {
    const secret = scratchFile('image_smtp_password', 'from-a-secret\n');
    const result = await dockerRun(
      ['-v', `${secret}:/run/secrets/smtp_password:ro`],
      { SMTP_PASSWORD_FILE: '/run/secrets/smtp_password' },
      ['sh', '-c', 'printf %s "$SMTP_PASSWORD"'],
    );
    expect(result.stdout).toBe('from-a-secret');
  });

  it('prints its ZERO_TOKEN line', async () => {
    const result = await dockerRun([], { ZERO_TOKEN: 'zt' }, ['true']);
    expect(result.stderr).toMatch(/^entrypoint: ZERO_TOKEN is set but not used/m);
  });

  it('runs tini as PID 1, which forwards SIGTERM: docker stop drains the workers and they exit 0', async () => {
    const name = `email-workers-signals-${Math.random().toString(36).slice(2, 8)}`;
    const db = await createTestSchema('signals');
    const prefix = uniquePrefix('signals');
    const env = {
      ...common(),
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(await closedPort()),
      LEDGER_SCHEMA: db.schema,
      USERS_TABLE: db.usersTable,
      MIGRATE_ON_START: 'true',
      QUEUE_PREFIX: prefix,
      HEALTH_PORT: 'auto',
    };
    try {
      await dockerOk(['run', '-d', '--name', name, '--network', 'host', ...envArgs(env), IMAGE]);
      await waitFor(async () => (await jsonLogs(name)).some((line) => line.msg === 'workers started'), {
        timeoutMs: 60_000,
        intervalMs: 500,
        what: 'workers started',
      });
      const processes = await dockerOk([
        'exec',
        name,
        'sh',
        '-c',
        'for p in /proc/[0-9]*; do printf "%s|%s|%s\\n" "${p#/proc/}" "$(awk \'/^Uid/{print $2}\' "$p/status")" "$(tr "\\0" " " <"$p/cmdline")"; done',
      ]);
      const table = processes.stdout
        .trim()
        .split('\n')
        .map((line) => line.split('|'));
      expect(table.find(([pid]) => pid === '1')?.[2]).toMatch(/^\/usr\/bin\/tini -- entrypoint.sh/);
      const node = table.find(([, , command]) => command?.includes('start-workers.js'));
      expect(node?.[1], 'node runs as uid 10001').toBe('10001');

      const stopping = Date.now();
      await dockerOk(['stop', '--time', '45', name], { timeoutMs: 60_000 });
      const stoppedAfterS = (Date.now() - stopping) / 1000;
      expect(stoppedAfterS).toBeLessThan(45);
      expect((await dockerOk(['inspect', name, '--format', '{{.State.ExitCode}}'])).stdout.trim()).toBe('0');
      const logs = await jsonLogs(name);
      expect(logs.find((line) => line.msg === 'shutting down: finishing jobs in flight')).toMatchObject({
        signal: 'SIGTERM',
      });
      expect(logs.some((line) => line.msg === 'stopped')).toBe(true);
    } finally {
      await docker(['rm', '-f', name]);
      await db.drop();
      await removePrefix(prefix);
    }
  });

  it('`monitor` and a bare `--monitor` both run start-workers --monitor', async () => {
    for (const command of [['monitor'], ['--monitor']]) {
      const name = `email-workers-monitor-${Math.random().toString(36).slice(2, 8)}`;
      try {
        const env = { ...common(), SMTP_HOST: '127.0.0.1', MONITOR_PORT: String(await closedPort()) };
        await dockerOk([
          'run',
          '-d',
          '--name',
          name,
          '--network',
          'host',
          ...envArgs(env),
          IMAGE,
          ...command,
        ]);
        await waitFor(
          async () =>
            (await docker(['logs', name])).stderr.includes('entrypoint: starting start-workers --monitor'),
          { timeoutMs: 30_000, intervalMs: 250, what: `${command[0]} to start the monitor` },
        );
      } finally {
        await docker(['rm', '-f', name]);
      }
    }
  });

  it('(issue 9) --monitor serves /health, and the board only with a login', async () => {
    const name = `email-workers-monitor-${Math.random().toString(36).slice(2, 8)}`;
    const port = await closedPort();
    const env = {
      ...common(),
      SMTP_HOST: '127.0.0.1',
      MONITOR_PORT: String(port),
      MONITOR_USER: 'ops',
      MONITOR_PASSWORD: 'ops-secret',
      API_TOKEN: 'api-token-for-the-test',
    };
    try {
      await dockerOk(['run', '-d', '--name', name, '--network', 'host', ...envArgs(env), IMAGE, '--monitor']);
      const health = await waitFor(
        () =>
          fetch(`http://127.0.0.1:${port}/health`).then(
            (response) => response,
            () => false as const,
          ),
        { timeoutMs: 30_000, intervalMs: 250, what: 'the monitor to answer' },
      );
      expect(health.status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(401);
    } finally {
      await docker(['rm', '-f', name]);
    }
  });
});

describeInEngine('docker-compose up --scale workers=3', () => {
  const project = `ewtest${Math.random().toString(36).slice(2, 8)}`;
  const prefix = uniquePrefix('compose');
  let smtp: SmtpSink;
  let db: TestSchema;
  let client: EmailClient;
  let envFile: string;
  let replicas: string[] = [];

  const ledger = async (like: string) => {
    const { rows } = await db.pool.query<{ recipient: string; status: string }>(
      `SELECT recipient, status FROM ${db.schema}.email_deliveries WHERE recipient LIKE $1`,
      [like],
    );
    return rows;
  };
  /** Starts (or starts again) the three replicas and waits until each has logged its `starts`th start. */
  const upWorkers = async (starts: number) => {
    await compose(project, envFile, ['up', '-d', '--no-deps', '--scale', 'workers=3', 'workers']);
    const listed = await dockerOk([
      'ps',
      '--filter',
      `label=com.docker.compose.project=${project}`,
      '--filter',
      'label=com.docker.compose.service=workers',
      '--format',
      '{{.Names}}',
    ]);
    replicas = listed.stdout.trim().split('\n').filter(Boolean).sort();
    expect(replicas).toHaveLength(3);
    for (const replica of replicas) {
      // A container started again appends to the same log: count its starts.
      await waitFor(
        async () =>
          (await jsonLogs(replica)).filter((line) => line.msg === 'workers started').length >= starts,
        { timeoutMs: 90_000, intervalMs: 500, what: `${replica} to start (${starts})` },
      );
    }
  };

  beforeAll(async () => {
    await buildImage();
    smtp = await startSmtpSink();
    // Each message takes a moment, as with a real relay, so the three replicas share the work.
    smtp.delayMs = 20;
    db = await createTestSchema('compose');
    envFile = scratchFile(
      'compose.env',
      envText({
        EMAIL_WORKERS_IMAGE: IMAGE,
        NODE_ENV: 'production',
        REDIS_URL: TEST_REDIS_URL,
        DATABASE_URL: TEST_DATABASE_URL,
        DB_PASSWORD: 'unused-the-test-sets-DATABASE_URL',
        SMTP_HOST: '127.0.0.1',
        SMTP_PORT: String(smtp.port),
        FROM_ADDRESS: 'bookings@events.example.com',
        QUEUE_PREFIX: prefix,
        LEDGER_SCHEMA: db.schema,
        USERS_TABLE: db.usersTable,
        WORKER_CONCURRENCY: '5',
      }),
    );
    const migrate = await compose(project, envFile, ['run', '--rm', '--no-deps', 'migrate']);
    expect(migrate.stdout).toContain(`to schema ${db.schema}`);
    await upWorkers(1);
    client = createEmailClient({ redisUrl: TEST_REDIS_URL, prefix, timeoutMs: 5_000 });
  }, 900_000);

  afterAll(async () => {
    await client?.close();
    if (envFile)
      await compose(project, envFile, ['down', '--volumes', '--timeout', '45', '--remove-orphans']).catch(
        () => undefined,
      );
    await smtp?.close();
    await db?.drop();
    await removePrefix(prefix);
  }, 180_000);

  it('delivers 300 emails once each, every replica sending at least 20 % of them', async () => {
    const ids = await client.enqueueMany(
      Array.from({ length: 300 }, (_, i) => ({
        name: 'send_welcome_email' as const,
        payload: { email: `scale-${i}@example.com` },
        options: { idempotencyKey: `scale-${i}` },
      })),
    );
    expect(new Set(ids).size).toBe(300);
    await waitFor(
      async () => (await ledger('scale-%')).filter((row) => row.status === 'sent').length === 300,
      {
        timeoutMs: 120_000,
        intervalMs: 500,
        what: '300 emails sent',
      },
    );
    const recipients = smtp.messages.map(recipientOf).filter((to) => to?.startsWith('scale-'));
    expect(recipients).toHaveLength(300);
    expect(new Set(recipients).size).toBe(300);

    const sentBy = await Promise.all(
      replicas.map(
        async (replica) => (await jsonLogs(replica)).filter((line) => line.outcome === 'sent').length,
      ),
    );
    console.log(`sent per replica: ${sentBy.join(', ')}`);
    expect(sentBy.reduce((a, b) => a + b, 0)).toBe(300);
    for (const count of sentBy) expect(count).toBeGreaterThanOrEqual(60);
  }, 180_000);

  it('gives each replica a health port of its own on the shared host network', async () => {
    const urls = await Promise.all(
      replicas.map(async (replica) =>
        (await dockerOk(['exec', replica, 'cat', '/tmp/email-workers-health-url'])).stdout.trim(),
      ),
    );
    for (const url of urls) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/health\/ready$/);
    expect(new Set(urls).size).toBe(3);
  });

  it('(issue 9) answers /health/ready in every replica, and Docker calls each healthy', async () => {
    for (const replica of replicas) {
      const url = (await dockerOk(['exec', replica, 'cat', '/tmp/email-workers-health-url'])).stdout.trim();
      expect((await fetch(url)).status, url).toBe(200);
      await waitFor(
        async () =>
          (await dockerOk(['inspect', replica, '--format', '{{.State.Health.Status}}'])).stdout.trim() ===
          'healthy',
        { timeoutMs: 60_000, intervalMs: 1_000, what: `${replica} healthy` },
      );
    }
  }, 120_000);

  it('stops during a burst with every replica exiting 0 in its grace period; after up, nothing lost or sent twice', async () => {
    // Slow enough (300 × 250 ms over 15 slots: about 5 s) that the stop lands in the middle of it.
    smtp.delayMs = 250;
    await client.enqueueMany(
      Array.from({ length: 300 }, (_, i) => ({
        name: 'send_welcome_email' as const,
        payload: { email: `burst-${i}@example.com` },
        options: { idempotencyKey: `burst-${i}` },
      })),
    );
    await waitFor(async () => (await ledger('burst-%')).length >= 30, {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: 'the burst under way',
    });
    const stopping = Date.now();
    await compose(project, envFile, ['stop']);
    const graceS = 45;
    for (const replica of replicas) {
      const state = JSON.parse(
        (await dockerOk(['inspect', replica, '--format', '{{json .State}}'])).stdout,
      ) as {
        ExitCode: number;
        FinishedAt: string;
        Running: boolean;
      };
      expect(state, replica).toMatchObject({ Running: false, ExitCode: 0 });
      expect(
        (Date.parse(state.FinishedAt) - stopping) / 1000,
        `${replica} stopped within its grace period`,
      ).toBeLessThan(graceS);
    }
    const stoppedWith = (await ledger('burst-%')).filter((row) => row.status === 'sent').length;
    console.log(`burst: ${stoppedWith} of 300 sent when the replicas stopped`);
    expect(stoppedWith).toBeLessThan(300);

    smtp.delayMs = 5;
    await upWorkers(2);
    await waitFor(
      async () => (await ledger('burst-%')).filter((row) => row.status === 'sent').length === 300,
      {
        timeoutMs: 120_000,
        intervalMs: 500,
        what: 'the rest of the burst sent after up',
      },
    );
    const recipients = smtp.messages.map(recipientOf).filter((to) => to?.startsWith('burst-'));
    expect(recipients).toHaveLength(300);
    expect(new Set(recipients).size).toBe(300);
  }, 300_000);
});
