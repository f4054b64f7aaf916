import { describe, expect, it } from 'vitest';
import { bullmqPriority, toEnqueueRequest } from '../../../src/bridges/celery-task.js';
import type { CeleryTask } from '../../../src/bridges/celery-message.js';

const call = (task: string, args: unknown[], kwargs: Record<string, unknown> = {}): CeleryTask => ({
  id: 'task-1',
  task,
  args,
  kwargs,
  eta: undefined,
  expires: undefined,
  ignoreResult: false,
  protocol: 2,
  hasLinks: false,
});

describe('toEnqueueRequest', () => {
  it('maps (user_id, booking_data) onto the payload and keys the job by the task id', () => {
    const request = toEnqueueRequest(
      call('email_workers.tasks.send_booking_confirmation', [42, { booking_id: 'B' }]),
      undefined,
      'redis',
      0,
    );
    expect(request).toEqual({
      name: 'send_booking_confirmation',
      payload: { user_id: 42, booking_data: { booking_id: 'B' } },
      options: { idempotencyKey: 'task-1' },
    });
  });

  it('merges positional and keyword arguments', () => {
    const request = toEnqueueRequest(
      call('send_waitlist_joined', [7], { waitlist_data: { position: 3 }, locale: 'de-DE' }),
      undefined,
      'redis',
      0,
    );
    expect(request.payload).toEqual({ user_id: 7, waitlist_data: { position: 3 }, locale: 'de-DE' });
  });

  it('unwraps task_data for OTP and welcome, positional or keyword', () => {
    const data = { email: 'a@example.com', otp: '123456' };
    expect(
      toEnqueueRequest(call('send_otp_verification_email', [data]), undefined, 'redis', 0).payload,
    ).toEqual(data);
    expect(
      toEnqueueRequest(
        call('send_welcome_email', [], { task_data: { email: 'w@example.com' } }),
        undefined,
        'redis',
        0,
      ).payload,
    ).toEqual({ email: 'w@example.com' });
  });

  it('refuses too many positional arguments as Python would', () => {
    expect(() => toEnqueueRequest(call('send_welcome_email', [{}, {}]), undefined, 'redis', 0)).toThrow(
      'send_welcome_email() takes 1 positional argument but 2 were given',
    );
  });

  it('refuses an argument given twice', () => {
    expect(() =>
      toEnqueueRequest(call('send_booking_confirmation', [1], { user_id: 2 }), undefined, 'redis', 0),
    ).toThrow("got multiple values for argument 'user_id'");
  });

  it('refuses an unknown task, naming the known ones', () => {
    expect(() => toEnqueueRequest(call('email_workers.tasks.nope', []), undefined, 'redis', 0)).toThrow(
      /unknown task email_workers.tasks.nope \(known: send_otp_verification_email/,
    );
  });

  it('turns eta into a delay and expires into the expiry', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    const request = toEnqueueRequest(
      {
        ...call('send_welcome_email', [{ email: 'a@example.com' }]),
        eta: new Date(now + 2_000),
        expires: new Date(now + 60_000),
      },
      undefined,
      'redis',
      now,
    );
    expect(request.options).toEqual({
      idempotencyKey: 'task-1',
      delay: 2_000,
      expiresAt: new Date(now + 60_000),
    });
  });
});

describe('bullmqPriority', () => {
  it('keeps the task’s own priority when the message has none (Redis sends 0)', () => {
    expect(bullmqPriority(undefined, 'amqp')).toEqual({});
    expect(bullmqPriority(0, 'redis')).toEqual({});
  });

  it('keeps Celery’s order: Redis 0 first and 9 last, RabbitMQ higher first', () => {
    expect(bullmqPriority(1, 'redis')).toEqual({ priority: 2 });
    expect(bullmqPriority(9, 'redis')).toEqual({ priority: 10 });
    expect(bullmqPriority(9, 'amqp')).toEqual({ priority: 1 });
    expect(bullmqPriority(1, 'amqp')).toEqual({ priority: 9 });
    expect(bullmqPriority(200, 'amqp')).toEqual({ priority: 1 });
  });
});
