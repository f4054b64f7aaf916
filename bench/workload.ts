/** The benchmark's traffic: a realistic mix of the seven email tasks, with payloads as the producers send them. */
import type pg from 'pg';

export const USERS = 1_000;

/** Share of each task in the mix (sums to 1): sign-ups and bookings dominate, cancellations are rare. */
export const MIX = [
  ['send_otp_verification_email', 0.3],
  ['send_welcome_email', 0.1],
  ['send_booking_confirmation', 0.25],
  ['send_booking_cancellation', 0.05],
  ['send_waitlist_notification', 0.1],
  ['send_waitlist_joined', 0.15],
  ['send_waitlist_cancellation', 0.05],
] as const;

export type BenchTask = (typeof MIX)[number][0];

export const QUEUE_OF: Record<BenchTask, string> = {
  send_otp_verification_email: 'auth_emails',
  send_welcome_email: 'auth_emails',
  send_booking_confirmation: 'booking_emails',
  send_booking_cancellation: 'booking_emails',
  send_waitlist_notification: 'waitlist_emails',
  send_waitlist_joined: 'waitlist_emails',
  send_waitlist_cancellation: 'waitlist_emails',
};

/** Task of the i-th job: deterministic, so every variant of a run sends the same traffic. */
export function taskAt(i: number): BenchTask {
  let x = ((i * 2654435761) % 1000) / 1000;
  for (const [task, share] of MIX) {
    if (x < share) return task;
    x -= share;
  }
  return MIX[0][0];
}

export function payloadFor(task: BenchTask, i: number): Record<string, unknown> {
  const userId = (i % USERS) + 1;
  const email = `user${userId}@bench.example.com`;
  const userData = { username: `user${userId}`, full_name: `Bench User ${userId}` };
  switch (task) {
    case 'send_otp_verification_email':
      return { email, otp: String(100000 + (i % 900000)), user_data: userData };
    case 'send_welcome_email':
      return { email, user_data: userData };
    case 'send_booking_confirmation':
      return {
        user_id: userId,
        booking_data: {
          event_name: 'JSConf EU',
          booking_id: `BK-${i}`,
          quantity: 1 + (i % 4),
          total_price: 49.5 * (1 + (i % 4)),
          booking_date: '2026-04-02T10:15:00Z',
        },
      };
    case 'send_booking_cancellation':
      return {
        user_id: userId,
        cancellation_data: {
          event_name: 'JSConf EU',
          booking_id: `BK-${i}`,
          refund_amount: 49.5,
          reason: 'Plans changed',
        },
      };
    case 'send_waitlist_notification':
      return { user_id: userId, waitlist_data: { event_name: 'JSConf EU', position: 1, expiry_minutes: 30 } };
    case 'send_waitlist_joined':
      return { user_id: userId, waitlist_data: { event_name: 'JSConf EU', position: 1 + (i % 50) } };
    case 'send_waitlist_cancellation':
      return { user_id: userId, waitlist_data: { event_name: 'JSConf EU' } };
  }
}

/** A users table like the platform's, in the benchmark's own schema. */
export async function seedUsers(pool: pg.Pool, schema: string): Promise<void> {
  await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await pool.query(`CREATE SCHEMA ${schema}`);
  await pool.query(
    `CREATE TABLE ${schema}.users (id integer PRIMARY KEY, email text NOT NULL, is_active boolean NOT NULL DEFAULT true)`,
  );
  await pool.query(
    `INSERT INTO ${schema}.users (id, email)
     SELECT n, 'user' || n || '@bench.example.com' FROM generate_series(1, ${USERS}) AS n`,
  );
}
