/**
 * An outage of a dependency never uses up an email's attempts: emails wait through a database or SMTP outage much
 * longer than their whole retry budget and are delivered once it ends. The dependency's breaker opens after
 * BREAKER_THRESHOLD consecutive failures (the workers then take no jobs), lets a probe through every
 * BREAKER_PROBE_INTERVAL, and closes on the first success; each change is logged and shown by the health check.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestSchema, TEST_DATABASE_URL, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';
import { startTestWorkers, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let databaseProxy: TcpProxy;
let smtpProxy: TcpProxy;
let w: TestWorkers;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('outages');
  await db.addUser({ id: 1, email: 'member@example.com' });
  databaseProxy = await startTcpProxy(Number(new URL(TEST_DATABASE_URL).port || 5432));
  smtpProxy = await startTcpProxy(smtp.port);
  const url = new URL(TEST_DATABASE_URL);
  url.port = String(databaseProxy.port);
  w = await startTestWorkers(
    'outages',
    {
      SMTP_HOST: '127.0.0.1',
      SMTP_PORT: String(smtpProxy.port),
      DATABASE_URL: url.toString(),
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      USERS_TABLE: db.usersTable,
      LEDGER_SCHEMA: db.schema,
      // A whole retry budget of well under a second: any outage below outlasts it many times.
      RETRY_DELAY: '50ms',
      RETRY_DELAY_MAX: '100ms',
      BREAKER_PROBE_INTERVAL: '300ms',
    },
    { queues: ['auth_emails', 'booking_emails', 'system'] },
  );
});

afterAll(async () => {
  await w?.stop();
  await databaseProxy?.close();
  await smtpProxy?.close();
  await smtp?.close();
  await db?.drop();
});

const breakerLines = (dependency: string, since: number) =>
  w.logs
    .slice(since)
    .filter((line) => line.breaker === dependency && Number(line.level) >= 30)
    .map((line) => line.state);

async function health() {
  const job = await w.queue('system').add('health_check', {});
  return job.waitUntilFinished(await w.events('system'), 20_000);
}

describe.sequential('an outage', () => {
  it('of PostgreSQL outlasting the retry budget delivers every email once it is back, none charged', async () => {
    const logsBefore = w.logs.length;
    databaseProxy.cut();
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        w.queue('booking_emails').add('send_booking_confirmation', {
          user_id: 1,
          booking_data: { event_name: 'Failover', booking_id: `FO-${n}` },
        }),
      ),
    );
    await waitFor(() => breakerLines('database', logsBefore).includes('open'), {
      what: 'the database breaker open',
    });
    expect((await health()).breakers.database).toMatchObject({
      state: 'open',
      reason: expect.stringMatching(/database/),
    });
    // Several probe intervals with the whole queue held: nothing fails meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await w.queue('booking_emails').getFailedCount()).toBe(0);

    await databaseProxy.restore();
    for (const job of jobs) await job.waitUntilFinished(await w.events('booking_emails'), 30_000);
    expect(smtp.messages.filter((m) => m.subject?.includes('Failover'))).toHaveLength(6);
    for (const job of jobs) {
      const { logs } = await w.queue('booking_emails').getJobLogs(job.id!);
      expect(logs.every((line) => /not charged/.test(line))).toBe(true);
    }
    expect(breakerLines('database', logsBefore)).toEqual(['open', 'closed']);
    expect((await health()).breakers.database.state).toBe('closed');
  });

  it('of the SMTP server refusing connections delivers every email once it is back, none charged', async () => {
    const logsBefore = w.logs.length;
    smtpProxy.cut();
    const jobs = await Promise.all(
      Array.from({ length: 6 }, (_, n) =>
        w.queue('auth_emails').add('send_welcome_email', { email: `refused-${n}@example.com` }),
      ),
    );
    await waitFor(() => breakerLines('smtp', logsBefore).includes('open'), { what: 'the SMTP breaker open' });
    const report = await health();
    expect(report.status).toBe('unhealthy');
    expect(report.breakers.smtp.state).not.toBe('closed');
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(await w.queue('auth_emails').getFailedCount()).toBe(0);

    await smtpProxy.restore();
    for (const job of jobs) await job.waitUntilFinished(await w.events('auth_emails'), 30_000);
    for (let n = 0; n < 6; n++) {
      expect(
        smtp.messages.filter(
          (m) => m.to && 'value' in m.to && m.to.value[0]?.address === `refused-${n}@example.com`,
        ),
      ).toHaveLength(1);
    }
    for (const job of jobs) {
      const reloaded = await w.queue('auth_emails').getJob(job.id!);
      const { logs } = await w.queue('auth_emails').getJobLogs(job.id!);
      expect(logs.every((line) => /not charged: smtp outage/.test(line))).toBe(true);
      expect(reloaded!.returnvalue).toMatchObject({ success: true });
    }
    expect(breakerLines('smtp', logsBefore)).toEqual(['open', 'closed']);
  });

  it('that begins right at a 250 loses no record: the sent email is recorded once the database is back', async () => {
    const start = smtp.transactions;
    smtp.beforeReply = async (n) => {
      if (n === start + 1) databaseProxy.cut();
    };
    try {
      const job = await w
        .queue('auth_emails')
        .add('send_welcome_email', { email: 'at-the-250@example.com' }, { jobId: 'at-the-250' });
      // The job completes (the email is out) although the ledger's local retries run out during the outage.
      expect(await job.waitUntilFinished(await w.events('auth_emails'), 20_000)).toMatchObject({
        success: true,
      });
      await waitFor(() => w.logs.some((line) => /record waits in Redis/.test(String(line.msg))), {
        what: 'the record kept in Redis',
      });
      await databaseProxy.restore();
      const row = await waitFor(
        async () => {
          const { rows } = await db.pool.query(
            `SELECT status, message_id FROM ${db.schema}.email_deliveries WHERE idempotency_key = $1`,
            ['send_welcome_email~at-the-250'],
          );
          return rows[0]?.status === 'sent' && rows[0];
        },
        { timeoutMs: 15_000, what: 'the row recorded as sent' },
      );
      expect(row.message_id).toBe(
        (await w.queue('auth_emails').getJob('at-the-250'))!.returnvalue.message_id,
      );
      expect(
        smtp.messages.filter(
          (m) => m.to && 'value' in m.to && m.to.value[0]?.address === 'at-the-250@example.com',
        ),
      ).toHaveLength(1);
    } finally {
      smtp.beforeReply = undefined;
      await databaseProxy.restore();
    }
  });

  it('still charges a failure of one message: a 451 for one recipient uses up its attempts', async () => {
    smtp.reply = () => ({ code: 451, message: '4.2.0 Mailbox busy, try later' });
    try {
      const job = await w.queue('auth_emails').add('send_welcome_email', { email: 'busy@example.com' });
      await expect(job.waitUntilFinished(await w.events('auth_emails'), 20_000)).rejects.toThrow(
        /failed after 4 attempts: SMTP 451/,
      );
      expect(breakerLines('smtp', 0).filter((state) => state === 'open')).toHaveLength(1);
    } finally {
      smtp.reply = () => undefined;
    }
  });
});
