/**
 * The task API under /api against the real monitor, workers, Redis and an SMTP server: every route and every
 * status it promises, the Idempotency-Key semantics, and the one error shape.
 */
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import {
  API_TOKEN,
  basic,
  bearer,
  monitorEnv,
  OPERATOR,
  startTestMonitor,
  type TestMonitor,
} from '../helpers/monitor.js';
import { startOwnRedis } from '../helpers/redis-server.js';
import { removePrefix, uniquePrefix } from '../helpers/redis.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { smtpEnv, startTestWorkers, type TestWorkers } from '../helpers/workers.js';
import { TASK_NAMES } from '../../src/tasks/registry.js';

let smtp: SmtpSink;
let w: TestWorkers;
let m: TestMonitor;

beforeAll(async () => {
  smtp = await startSmtpSink();
  w = await startTestWorkers('api', { ...smtpEnv(smtp), MAX_RETRIES: '0' });
  m = await startTestMonitor(w.prefix, { ...smtpEnv(smtp), ...monitorEnv });
});

afterAll(async () => {
  await m?.close();
  await w?.stop();
  await smtp?.close();
});

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  m.request(path, {
    method: 'POST',
    auth: bearer(),
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
const get = (path: string) => m.request(path, { auth: bearer() });
const jobState = async (id: string) => (await get(`/api/jobs/${encodeURIComponent(id)}`)).json().state;

describe('POST /api/tasks/:name', () => {
  it('answers 202 with the job, which the workers then send', async () => {
    const response = await post('/api/tasks/send_welcome_email', { email: 'api-welcome@example.com' });
    expect(response.status).toBe(202);
    const body = response.json();
    expect(body).toMatchObject({ task: 'send_welcome_email', queue: 'auth_emails', status: 'queued' });
    await waitFor(async () => (await jobState(body.job_id)) === 'completed', { what: 'the job to complete' });
  });

  it('accepts the old qualified names, and delay_ms and priority', async () => {
    const response = await post(
      '/api/tasks/email_workers.tasks.send_welcome_email?delay_ms=60000&priority=3',
      { email: 'api-delayed@example.com' },
    );
    expect(response.status).toBe(202);
    const job = await w.queue('auth_emails').getJob(response.json().job_id);
    expect(job!.name).toBe('send_welcome_email');
    expect(job!.opts).toMatchObject({ delay: 60_000, priority: 3 });
    expect(await job!.getState()).toBe('delayed');
  });

  it('answers 422 with one entry per bad field', async () => {
    const response = await post('/api/tasks/send_otp_verification_email', {
      email: 'not-an-address',
      otp: 'abc',
    });
    expect(response.status).toBe(422);
    const { error } = response.json();
    expect(error.code).toBe('INVALID_PAYLOAD');
    expect(error.details.map((d: { path: string }) => d.path).sort()).toEqual(['email', 'otp']);
    expect(error.details.every((d: { message: string }) => d.message.length > 0)).toBe(true);
  });

  it('answers 422 naming a bad query parameter or Idempotency-Key', async () => {
    const delay = await post('/api/tasks/send_welcome_email?delay_ms=-5', { email: 'x@example.com' });
    expect(delay.status).toBe(422);
    expect(delay.json().error.details[0].path).toBe('delay_ms');
    const key = await post(
      '/api/tasks/send_welcome_email',
      { email: 'x@example.com' },
      { 'idempotency-key': 'k'.repeat(256) },
    );
    expect(key.status).toBe(422);
    expect(key.json().error.details[0].path).toBe('Idempotency-Key');
  });

  it('answers 404 for an unknown task, listing the known ones', async () => {
    const response = await post('/api/tasks/send_fax', {});
    expect(response.status).toBe(404);
    expect(response.json().error).toMatchObject({ code: 'UNKNOWN_TASK', details: { known: TASK_NAMES } });
  });

  it('answers 413 for a body over 64 KiB', async () => {
    const response = await post('/api/tasks/send_welcome_email', {
      email: 'big@example.com',
      pad: 'x'.repeat(70_000),
    });
    expect(response.status).toBe(413);
    expect(response.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('answers 400 for malformed JSON', async () => {
    const response = await post('/api/tasks/send_welcome_email', '{"email": ');
    expect(response.status).toBe(400);
    expect(response.json().error.code).toBe('INVALID_REQUEST');
  });
});

/**
 * POST /api/tasks/:name is served on node:http before express (src/monitor/api/fast-enqueue.ts): what it takes
 * on, it must answer as express would, and what it does not (a compressed body, another charset) must still
 * reach express.
 */
describe('POST /api/tasks/:name beside express', () => {
  const chunked = (parts: string[], headers: Record<string, string> = {}) =>
    m.request('/api/tasks/send_welcome_email', {
      method: 'POST',
      auth: bearer(),
      headers: { 'content-type': 'application/json', ...headers },
      body: new ReadableStream({
        start(controller) {
          for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);

  it('reads a chunked body (no Content-Length), and stops one at 64 KiB with 413', async () => {
    const small = await chunked(['{"email":', '"api-chunked@example.com"}']);
    expect(small.status).toBe(202);
    const large = await chunked([
      '{"email":"big@example.com","pad":"',
      'x'.repeat(40_000),
      'x'.repeat(40_000),
      '"}',
    ]);
    expect(large.status).toBe(413);
    expect(large.json().error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('takes a gzip body and answers 415 for a charset it cannot read, as express does', async () => {
    const gzip = await m.request('/api/tasks/send_welcome_email', {
      method: 'POST',
      auth: bearer(),
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ email: 'api-gzip@example.com' })),
    });
    expect(gzip.status).toBe(202);
    const job = await w.queue('auth_emails').getJob(gzip.json().job_id);
    expect(job!.data).toMatchObject({ email: 'api-gzip@example.com' });

    const latin = await post('/api/tasks/send_welcome_email', '{"email":"x@example.com"}', {
      'content-type': 'application/json; charset=koi8-r',
    });
    expect(latin.status).toBe(415);
    expect(latin.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 422, not 500, for a body nested thousands of levels deep', async () => {
    const deep = `{"email":"deep@example.com","extra":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const response = await post('/api/tasks/send_welcome_email', deep);
    expect(response.status).toBe(422);
    expect(response.json().error.code).toBe('INVALID_PAYLOAD');
  });

  it('answers as express does for a body with a byte order mark, the charset spelled utf8, and a # in the target', async () => {
    const bom = await m.request('/api/tasks/send_welcome_email', {
      method: 'POST',
      auth: bearer(),
      headers: { 'content-type': 'application/json' },
      body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"email":"api-bom@example.com"}')]),
    });
    expect(bom.status).toBe(202);
    const utf8 = await post('/api/tasks/send_welcome_email', '{"email":"x@example.com"}', {
      'content-type': 'application/json; charset=utf8',
    });
    expect(utf8.status).toBe(415);
    expect(utf8.json().error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    // fetch strips a fragment, so the target goes as a client writing it raw would send it.
    const raw = await rawRequest(
      m.monitor.url,
      'POST /api/tasks/send_welcome_email#x HTTP/1.1',
      { authorization: bearer(), 'content-type': 'application/json' },
      '{"email":"api-fragment@example.com"}',
    );
    expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 202 Accepted');
  });

  it('decodes the task name (400 when it does not decode), and reads an empty body as {} (422 naming the missing field)', async () => {
    const encoded = await post('/api/tasks/send%5Fwelcome%5Femail', { email: 'api-encoded@example.com' });
    expect(encoded.status).toBe(202);
    expect(encoded.json().task).toBe('send_welcome_email');
    const undecodable = await post('/api/tasks/send%E0%A4%A', { email: 'x@example.com' });
    expect(undecodable.status).toBe(400);
    expect(undecodable.json().error.code).toBe('INVALID_REQUEST');
    const empty = await post('/api/tasks/send_welcome_email', '');
    expect(empty.status).toBe(422);
    expect(empty.json().error.details.map((d: { path: string }) => d.path)).toContain('email');
  });

  it('refuses a wrong token with 401 and the error shape before reading the body', async () => {
    const response = await m.request('/api/tasks/send_welcome_email', {
      method: 'POST',
      auth: bearer('wrong-token-0123456789'),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'api-wrong-token@example.com' }),
    });
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(response.json().error.code).toBe('UNAUTHORIZED');
  });
});

describe('Idempotency-Key', () => {
  const body = { email: 'idem@example.com' };

  it('replays the same key and body with 200 and the first job; one email is sent', async () => {
    const key = { 'idempotency-key': 'order-42 confirmation' };
    const first = await post('/api/tasks/send_welcome_email', body, key);
    expect(first.status).toBe(202);
    expect(first.headers.get('idempotent-replay')).toBeNull();
    const replay = await post('/api/tasks/send_welcome_email', { ...body }, key);
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replay')).toBe('true');
    expect(replay.json().job_id).toBe(first.json().job_id);
    // The key is the typed client's mapping, and so the ledger's key.
    expect(first.json().job_id).toBe('send_welcome_email~order-42%20confirmation');
    await waitFor(async () => (await jobState(first.json().job_id)) === 'completed');
    expect(
      smtp.messages.filter(
        (mail) => mail.subject && mail.to && 'value' in mail.to && mail.to.value[0]?.address === body.email,
      ),
    ).toHaveLength(1);
  });

  it('answers 422 for the same key with another body', async () => {
    const key = { 'idempotency-key': 'reused-key' };
    expect((await post('/api/tasks/send_welcome_email', body, key)).status).toBe(202);
    const other = await post('/api/tasks/send_welcome_email', { email: 'someone-else@example.com' }, key);
    expect(other.status).toBe(422);
    expect(other.json().error.code).toBe('IDEMPOTENCY_KEY_REUSED');
  });
});

describe('jobs', () => {
  it('GET /api/jobs/:id shows a failed job with its reason, masked; 404 for an unknown id', async () => {
    smtp.reply = () => ({ code: 550, message: '<api-reject@example.com>: no such user' });
    try {
      const { job_id } = (
        await post('/api/tasks/send_welcome_email', { email: 'api-reject@example.com' })
      ).json();
      await waitFor(async () => (await jobState(job_id)) === 'failed', { what: 'the job to fail' });
      const job = (await get(`/api/jobs/${job_id}`)).json();
      expect(job).toMatchObject({
        id: job_id,
        task: 'send_welcome_email',
        queue: 'auth_emails',
        state: 'failed',
        attempts: 1,
      });
      expect(job.failed_reason).toMatch(/550/);
      expect(job.failed_reason).not.toContain('api-reject@example.com');
      expect(job.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
      expect(job.finished_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    } finally {
      smtp.reply = () => undefined;
    }
    const missing = await get('/api/jobs/no-such-job');
    expect(missing.status).toBe(404);
    expect(missing.json().error.code).toBe('JOB_NOT_FOUND');
  });

  it('POST /api/jobs/:id/retry runs a failed job again to completion; 409 for one that has not failed', async () => {
    smtp.reply = () => ({ code: 550, message: 'no such user' });
    const { job_id } = (
      await post('/api/tasks/send_welcome_email', { email: 'api-retry@example.com' })
    ).json();
    await waitFor(async () => (await jobState(job_id)) === 'failed', { what: 'the job to fail' });
    smtp.reply = () => undefined;
    const retried = await post(`/api/jobs/${job_id}/retry`, {});
    expect(retried.status).toBe(200);
    await waitFor(async () => (await jobState(job_id)) === 'completed', {
      what: 'the retried job to complete',
    });
    const again = await post(`/api/jobs/${job_id}/retry`, {});
    expect(again.status).toBe(409);
    expect(again.json().error).toMatchObject({ code: 'JOB_STATE_CONFLICT', details: { state: 'completed' } });
  });

  it('DELETE /api/jobs/:id cancels a delayed job; 409 for an active or finished one; 404 when gone', async () => {
    const { job_id } = (
      await post('/api/tasks/send_welcome_email?delay_ms=600000', { email: 'api-cancel@example.com' })
    ).json();
    const cancelled = await m.request(`/api/jobs/${job_id}`, { method: 'DELETE', auth: bearer() });
    expect(cancelled.status).toBe(200);
    expect(cancelled.json().state).toBe('cancelled');
    expect(await w.queue('auth_emails').getJob(job_id)).toBeUndefined();
    expect((await m.request(`/api/jobs/${job_id}`, { method: 'DELETE', auth: bearer() })).status).toBe(404);

    smtp.delayMs = 1_500;
    try {
      const active = (
        await post('/api/tasks/send_welcome_email', { email: 'api-active@example.com' })
      ).json();
      await waitFor(async () => (await jobState(active.job_id)) === 'active', { what: 'the job to start' });
      const refused = await m.request(`/api/jobs/${active.job_id}`, { method: 'DELETE', auth: bearer() });
      expect(refused.status).toBe(409);
      expect(refused.json().error.details.state).toBe('active');
      await waitFor(async () => (await jobState(active.job_id)) === 'completed');
      expect(
        (await m.request(`/api/jobs/${active.job_id}`, { method: 'DELETE', auth: bearer() })).status,
      ).toBe(409);
    } finally {
      smtp.delayMs = 0;
    }
  });

  it('answers 409 for a plain BullMQ id that exists in two queues, and finds it with ?queue=', async () => {
    const a = await w.queue('system').add('health_check', {}, { delay: 600_000 });
    const b = await w
      .queue('waitlist_emails')
      .add('send_waitlist_joined', { user_id: 1 }, { delay: 600_000 });
    expect(a.id).toBe(b.id);
    const ambiguous = await get(`/api/jobs/${a.id}`);
    expect(ambiguous.status).toBe(409);
    expect(ambiguous.json().error.details.queues.sort()).toEqual(['system', 'waitlist_emails']);
    const found = await get(`/api/jobs/${a.id}?queue=system`);
    expect(found.status).toBe(200);
    expect(found.json()).toMatchObject({ task: 'health_check', queue: 'system', state: 'delayed' });
  });

  it('GET /api/jobs lists newest first, filtered by state and task, page by page', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await post('/api/tasks/send_waitlist_cancellation?delay_ms=600000', {
        user_id: i + 1,
        waitlist_data: { event_name: 'Paging' },
      });
      expect(response.status, response.text).toBe(202);
      ids.push(response.json().job_id);
    }
    const first = await get('/api/jobs?state=delayed&task=send_waitlist_cancellation&limit=2');
    expect(first.status).toBe(200);
    const page1 = first.json();
    expect(page1.jobs).toHaveLength(2);
    expect(page1.next_cursor).toEqual(expect.any(String));
    const page2 = (
      await get(`/api/jobs?state=delayed&task=send_waitlist_cancellation&limit=2&cursor=${page1.next_cursor}`)
    ).json();
    expect(page2.next_cursor).toBeNull();
    const listed = [...page1.jobs, ...page2.jobs];
    expect(listed.map((j: { id: string }) => j.id).sort()).toEqual([...ids].sort());
    const created = listed.map((j: { created_at: string }) => j.created_at);
    expect(created).toEqual([...created].sort().reverse());
    expect((await get('/api/jobs?state=sleeping')).status).toBe(422);
    expect((await get('/api/jobs?cursor=bogus')).status).toBe(422);
  });
});

describe('GET /api/stats', () => {
  it('counts per queue and in total, lists the tasks and the live workers', async () => {
    const stats = (await get('/api/stats')).json();
    expect(Object.keys(stats.queues).sort()).toEqual([
      'auth_emails',
      'booking_emails',
      'system',
      'waitlist_emails',
    ]);
    expect(stats.total.completed).toBe(
      Object.values(stats.queues as Record<string, { completed: number }>).reduce(
        (sum, q) => sum + q.completed,
        0,
      ),
    );
    expect(stats.queues.auth_emails.completed).toBeGreaterThanOrEqual(3);
    expect(stats.tasks).toContainEqual({ name: 'send_otp_verification_email', queue: 'auth_emails' });
    expect(stats.workers).toHaveLength(1);
    expect(stats.workers[0]).toMatchObject({ kind: 'email-workers', pid: process.pid });
  });
});

describe('the API description', () => {
  it('serves openapi.json and /api/docs to the token and to a board login', async () => {
    const spec = await get('/api/openapi.json');
    expect(spec.status).toBe(200);
    expect(spec.json().openapi).toBe('3.1.0');
    const docs = await m.request('/api/docs', { auth: basic(OPERATOR) });
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('/api/tasks/send_otp_verification_email');
    expect((await m.request('/api/docs')).status).toBe(401);
  });

  it('answers an unknown route with the error shape', async () => {
    const response = await get('/api/nothing-here');
    expect(response.status).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'NOT_FOUND', message: expect.any(String) } });
  });
});

describe('Redis unreachable', () => {
  it('answers 503, not 500, when Redis hangs with the connection open (commands time out)', async () => {
    const own = await startOwnRedis();
    const prefix = uniquePrefix('api-hung');
    const hung = await startTestMonitor(prefix, { ...monitorEnv, REDIS_URL: own.url });
    const admin = new Redis(own.url);
    try {
      await waitFor(
        async () => (await hung.request('/api/stats', { auth: bearer(API_TOKEN) })).status === 200,
      );
      // Every other client's commands wait, as behind a partition or a Redis stopped with SIGSTOP: the monitor's
      // connection stays `ready` and its enqueue ends on the command timeout.
      await admin.call('CLIENT', 'PAUSE', '4000', 'ALL');
      const response = await hung.request('/api/tasks/send_welcome_email', {
        method: 'POST',
        auth: bearer(API_TOKEN),
        body: JSON.stringify({ email: 'hung@example.com' }),
      });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.json().error.code).toBe('QUEUE_UNAVAILABLE');
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => undefined);
      admin.disconnect();
      await hung.close();
      await own.stop();
    }
  });

  it('answers 503 with Retry-After within about a second, having enqueued nothing', async () => {
    const own = await startOwnRedis();
    const prefix = uniquePrefix('api-down');
    const down = await startTestMonitor(prefix, { ...monitorEnv, REDIS_URL: own.url });
    try {
      await waitFor(
        async () => (await down.request('/api/stats', { auth: bearer(API_TOKEN) })).status === 200,
      );
      await own.stop();
      const started = Date.now();
      const response = await down.request('/api/tasks/send_welcome_email', {
        method: 'POST',
        auth: bearer(API_TOKEN),
        body: JSON.stringify({ email: 'down@example.com' }),
      });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.json().error.code).toBe('QUEUE_UNAVAILABLE');
      await own.start();
      const queue = new Queue('auth_emails', { connection: { url: own.url }, prefix });
      try {
        expect(await queue.count()).toBe(0);
      } finally {
        await queue.close();
      }
    } finally {
      await down.close();
      await own.stop();
      await removePrefix(prefix, own.url).catch(() => undefined);
    }
  });
});

/** One request written as given on its own connection (fetch would normalise the target); the whole answer. */
function rawRequest(
  url: string,
  line: string,
  headers: Record<string, string>,
  body: string,
): Promise<string> {
  const { hostname, port } = new URL(url);
  const head = Object.entries({
    ...headers,
    host: `${hostname}:${port}`,
    'content-length': `${Buffer.byteLength(body)}`,
    connection: 'close',
  })
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(`${line}\r\n${head}\r\n${body}`));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}
