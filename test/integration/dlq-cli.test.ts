/**
 * `start-workers dlq`: dead letters listed, replayed onto their queue with the same idempotency key (each failed
 * email sent once, one the ledger knows was sent not sent again, an expired OTP refused), purged.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createEmailClient, type EmailClient } from '@email-workers/client';
import { queuePrefix } from '../../src/queues/connection.js';
import { DEAD_LETTER_QUEUE } from '../../src/queues/dead-letter.js';
import { spawnCli } from '../helpers/cli.js';
import { recipientOf } from '../helpers/jobs.js';
import { createTestSchema, type TestSchema } from '../helpers/postgres.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { waitFor } from '../helpers/wait.js';
import { databaseEnv, smtpEnv, startTestWorkers, testEnv, type TestWorkers } from '../helpers/workers.js';

let smtp: SmtpSink;
let db: TestSchema;
let w: TestWorkers;
let client: EmailClient;
let letters: Queue;

beforeAll(async () => {
  smtp = await startSmtpSink();
  db = await createTestSchema('dlq_cli');
  w = await startTestWorkers('dlq-cli', { ...smtpEnv(smtp), ...databaseEnv(db) });
  client = createEmailClient({ redis: w.config.redis });
  letters = new Queue(DEAD_LETTER_QUEUE, {
    connection: { url: w.config.redis.url },
    prefix: queuePrefix(w.config.redis, DEAD_LETTER_QUEUE),
  });
});

afterAll(async () => {
  await client?.close();
  await letters?.close();
  await w?.stop();
  await smtp?.close();
  await db?.drop();
});

async function dlq(...args: string[]) {
  const cli = spawnCli(['dlq', ...args], testEnv(w.prefix, { ...smtpEnv(smtp), ...databaseEnv(db) }));
  const code = await cli.exited;
  return { code, stdout: cli.stdout(), stderr: cli.stderr() };
}

const sentTo = (address: string) => smtp.messages.filter((mail) => recipientOf(mail) === address).length;

it('replays every dead letter once: each failed email sent once, a sent one and an expired OTP not', async () => {
  smtp.reply = () => ({ code: 550, message: 'Mailbox unavailable' });
  const addresses = ['replay-1@example.com', 'replay-2@example.com', 'replay-3@example.com'];
  const ids = await Promise.all(
    addresses.map((email) => client.enqueue('send_welcome_email', { email }, { idempotencyKey: email })),
  );
  const sentMeanwhile = await client.enqueue(
    'send_welcome_email',
    { email: 'sent-meanwhile@example.com' },
    { idempotencyKey: 'sent-meanwhile' },
  );
  const otpDeadline = Date.now() + 3_000;
  const otp = await client.enqueue(
    'send_otp_verification_email',
    { email: 'late-otp@example.com', otp: '550123' },
    { idempotencyKey: 'late-otp', expiresAt: new Date(otpDeadline) },
  );
  const letterIds = [
    ...ids.map((id) => `auth_emails/${id}`),
    `auth_emails/${sentMeanwhile}`,
    `auth_emails/${otp}`,
  ];
  await waitFor(async () => (await Promise.all(letterIds.map((id) => letters.getJob(id)))).every(Boolean), {
    timeoutMs: 20_000,
    what: 'five dead letters',
  });
  // The ledger learns that one of them went out after all (a person resolved it, or another copy sent it).
  await db.pool.query(
    `UPDATE ${db.schema}.email_deliveries SET status = 'sent', message_id = '<x@example.com>' WHERE idempotency_key = $1`,
    [sentMeanwhile],
  );
  // The OTP's deadline passes while it lies in the dead-letter queue.
  await waitFor(() => Date.now() > otpDeadline, { timeoutMs: 10_000, what: "the OTP's deadline" });
  smtp.reply = () => undefined;

  const listed = await dlq('list', '--json');
  expect(listed.code).toBe(0);
  expect(
    listed.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line).id)
      .sort(),
  ).toEqual([...letterIds].sort());
  expect(listed.stdout).not.toMatch(/replay-\d@|550123/);

  const replay = await dlq('replay', '--all');
  expect(replay.stderr).toBe('');
  expect(replay.code).toBe(0);
  expect(replay.stdout).toMatch(new RegExp(`auth_emails/${otp}: refused: expired at `));
  expect(replay.stdout).toMatch(/4 replayed, 1 refused\n$/);
  await smtp.waitForMessages(3, 20_000);
  const sentMeanwhileJob = await w.queue('auth_emails').getJob(sentMeanwhile);
  await waitFor(async () => (await sentMeanwhileJob!.getState()) === 'completed', { timeoutMs: 20_000 });
  expect((await w.queue('auth_emails').getJob(sentMeanwhile))!.returnvalue).toMatchObject({
    duplicate: true,
  });

  // Nothing left to replay but the expired OTP: a second --all sends nothing more.
  const again = await dlq('replay', '--all');
  expect(again.stdout).toMatch(/0 replayed, 1 refused\n$/);
  for (const address of addresses) expect(sentTo(address)).toBe(1);
  expect(sentTo('sent-meanwhile@example.com')).toBe(0);
  expect(sentTo('late-otp@example.com')).toBe(0);

  const purged = await dlq('purge', '--older-than', '1s', '--force');
  expect(purged.stdout).toBe('removed 1 dead letters older than 1s\n');
  expect((await dlq('list')).stdout).toBe('no dead letters\n');
}, 90_000);

it('refuses a purge age without a unit, and a replay of an unknown letter', async () => {
  expect((await dlq('purge', '--older-than', '7')).stderr).toMatch(/has no unit; write 7d/);
  const unknown = await dlq('replay', 'auth_emails/nope');
  expect(unknown.code).toBe(1);
  expect(unknown.stdout).toBe('auth_emails/nope: refused: no such dead letter\n');
});
