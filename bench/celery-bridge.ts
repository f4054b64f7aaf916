/**
 * The Celery bridge in the benchmark: the same N tasks as every row, sent by a real Celery producer (Debian's
 * python3-celery, bench/celery/enqueue.py, `send_task` as the old producers call it) to a Celery queue of the
 * run's own on the bench's Redis, then bridged. Measured, never asserted.
 */
import { execFile, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { payloadFor, taskAt } from './workload.js';

const PYTHON = '/usr/bin/python3';
const CELERY_DIR = resolve(import.meta.dirname, 'celery');

/** The Celery queue of this run: the bridge's CELERY_QUEUES. */
export const bridgeQueue = () => `bench_bridge_${process.pid}`;

/** True when Debian's python3-celery and python3-redis import (the producer needs nothing else). */
export function celeryProducerAvailable(): Promise<boolean> {
  return new Promise((done) =>
    execFile(PYTHON, ['-c', 'import celery, redis'], { timeout: 30_000 }, (error) => done(!error)),
  );
}

/** Sends the N tasks of bench/workload.ts with `send_task`, as the old producers did, onto `queue`. */
export async function sendCeleryTasks(n: number, brokerUrl: string, queue: string): Promise<void> {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const task = taskAt(i);
    const payload = payloadFor(task, i);
    const kwargs = 'user_id' in payload ? payload : { task_data: payload };
    lines.push(JSON.stringify({ task, queue, kwargs }));
  }
  const child = spawn(PYTHON, [resolve(CELERY_DIR, 'enqueue.py')], {
    cwd: CELERY_DIR,
    env: {
      PATH: '/usr/bin:/bin',
      LANG: 'C.UTF-8',
      PYTHONPATH: CELERY_DIR,
      PYTHONDONTWRITEBYTECODE: '1',
      CELERY_BROKER_URL: brokerUrl,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stdin!.end(`${lines.join('\n')}\n`);
  const code = await new Promise<number | null>((done) => child.on('close', done));
  if (code !== 0 || Number(output.trim()) !== n)
    throw new Error(`enqueue.py exited ${code}: ${output.slice(-2000)}`);
}

/** What kombu made for the queue: the list, its priority sub-lists, the binding. */
export async function removeCeleryQueue(brokerUrl: string, queue: string): Promise<void> {
  const redis = new Redis(brokerUrl, { maxRetriesPerRequest: 2 });
  try {
    await redis.del(queue, ...[3, 6, 9].map((step) => `${queue}\x06\x16${step}`), `_kombu.binding.${queue}`);
  } finally {
    redis.disconnect();
  }
}
