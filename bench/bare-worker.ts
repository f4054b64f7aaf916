/**
 * The floor to beat: the 30-line pipeline anyone could write. One BullMQ Worker per queue renders one Handlebars
 * template and hands it to nodemailer's pooled transport; no validation, lookup, ledger, helpers or logs. So that
 * the comparison measures the service's work and not the size of its emails, the template is one of the service's
 * own emails, rendered once and frozen (BARE_HTML_TEMPLATE, BARE_TEXT_TEMPLATE: files written by bench/run.ts).
 * Env: REDIS_URL, QUEUE_PREFIX, SMTP_PORT, WORKER_CONCURRENCY, SMTP_POOL_SIZE, SMTP_MAX_MESSAGES.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'bullmq';
import Handlebars from 'handlebars';
import nodemailer from 'nodemailer';
import { messageIdFor } from '../src/mail/transport.js';

const env = process.env;
const html = Handlebars.compile(readFileSync(env.BARE_HTML_TEMPLATE!, 'utf8'));
const text = Handlebars.compile(readFileSync(env.BARE_TEXT_TEMPLATE!, 'utf8'));
const transport = nodemailer.createTransport({
  pool: true,
  host: '127.0.0.1',
  port: Number(env.SMTP_PORT),
  ignoreTLS: true,
  maxConnections: Number(env.SMTP_POOL_SIZE ?? 5),
  maxMessages: Number(env.SMTP_MAX_MESSAGES ?? 100),
});

const workers = ['auth_emails', 'booking_emails', 'waitlist_emails'].map(
  (queue) =>
    new Worker(
      queue,
      async (job) => {
        const data = job.data as { email?: string; user_id?: number; booking_data?: { event_name?: string } };
        const to = data.email ?? `user${data.user_id}@bench.example.com`;
        const view = { name: to, event: data.booking_data?.event_name ?? 'your event' };
        const info = await transport.sendMail({
          from: 'bench@example.com',
          to,
          subject: job.name,
          // The service's Message-ID scheme, so that the benchmark can time each message end to end.
          messageId: messageIdFor(String(job.id), 'bench@events.example.com'),
          html: html(view),
          text: text(view),
        });
        return info.messageId;
      },
      {
        connection: { url: env.REDIS_URL, maxRetriesPerRequest: null },
        prefix: env.QUEUE_PREFIX,
        concurrency: Number(env.WORKER_CONCURRENCY ?? 10),
        removeOnComplete: { count: 1000 },
      },
    ),
);
await Promise.all(workers.map((worker) => worker.waitUntilReady()));
console.log('workers started');
process.on('SIGTERM', async () => {
  await Promise.all(workers.map((worker) => worker.close()));
  transport.close();
  process.exit(0);
});
