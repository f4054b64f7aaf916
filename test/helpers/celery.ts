/**
 * A real Celery producer (Debian's python3-celery, run by /usr/bin/python3) speaking to the bridge's broker:
 * test/celery/producer.py, kept running, one JSON action a line. And the clean-up of what kombu leaves in Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const PRODUCER = fileURLToPath(new URL('../celery/producer.py', import.meta.url));

/** A Celery queue name of this test's own. */
export function uniqueCeleryQueue(label: string): string {
  return `test_celery_${label}_${randomBytes(4).toString('hex')}`;
}

export interface CeleryProducer {
  /** Sends one action and resolves with the producer's answer. */
  run<T = Record<string, unknown>>(action: Record<string, unknown>): Promise<T>;
  close(): Promise<void>;
}

export function startCeleryProducer(env: Record<string, string>): CeleryProducer {
  const child: ChildProcess = spawn('/usr/bin/python3', [PRODUCER], {
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  const waiting: Array<{ resolve: (value: unknown) => void; reject: (error: Error) => void }> = [];
  createInterface({ input: child.stdout! }).on('line', (line) => waiting.shift()?.resolve(JSON.parse(line)));
  child.on('exit', (code) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`producer exited ${code}: ${stderr}`));
  });
  let chain: Promise<unknown> = Promise.resolve();
  return {
    run<T>(action: Record<string, unknown>) {
      const answer = new Promise<T>((resolve, reject) => {
        waiting.push({ resolve: resolve as (value: unknown) => void, reject });
        child.stdin!.write(`${JSON.stringify(action)}\n`);
      });
      chain = chain.then(() => answer).catch(() => undefined);
      return answer;
    },
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.stdin!.end();
      await exited;
    },
  };
}

/** Deletes the lists, priority sub-lists and bindings kombu made for `queues`, and the results of `taskIds`. */
export async function removeCeleryKeys(url: string, queues: string[], taskIds: string[] = []): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const keys = queues.flatMap((queue) => [
      queue,
      ...[3, 6, 9].map((step) => `${queue}\x06\x16${step}`),
      `_kombu.binding.${queue}`,
    ]);
    keys.push(...taskIds.map((id) => `celery-task-meta-${id}`));
    for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  } finally {
    redis.disconnect();
  }
}
