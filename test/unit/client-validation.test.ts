import { afterAll, describe, it, expect } from 'vitest';
import { createEmailClient, jobIdForKey } from '@email-workers/client';
import { InvalidPayloadError, UnknownTaskError } from '../../src/errors.js';
import { TASK_NAMES } from '../../src/tasks/registry.js';

/** BullMQ's own rule (Job.validateOptions): a custom id may not parse as an integer nor contain `:`. */
function bullmqAccepts(jobId: string): boolean {
  return `${parseInt(jobId, 10)}` !== jobId && !jobId.includes(':');
}

describe('jobIdForKey', () => {
  it.each(['123', 'booking:42', 'ключ-🎟'])('turns the key %s into an id BullMQ accepts', (key) => {
    const id = jobIdForKey('send_booking_confirmation', key);
    expect(id).not.toContain(':');
    expect(id).not.toMatch(/^\d+$/);
    expect(bullmqAccepts(id)).toBe(true);
  });

  it('gives the same id for the same task and key', () => {
    expect(jobIdForKey('send_booking_confirmation', 'booking:42')).toBe(
      jobIdForKey('send_booking_confirmation', 'booking:42'),
    );
  });

  it('gives different ids for the same key on different tasks', () => {
    expect(jobIdForKey('send_booking_confirmation', 'booking:42')).not.toBe(
      jobIdForKey('send_booking_cancellation', 'booking:42'),
    );
  });

  it('gives different ids for different keys', () => {
    expect(jobIdForKey('send_booking_confirmation', 'booking:42')).not.toBe(
      jobIdForKey('send_booking_confirmation', 'booking-42'),
    );
  });

  it('refuses an empty key', () => {
    expect(() => jobIdForKey('send_booking_confirmation', '')).toThrow(InvalidPayloadError);
  });

  it('accepts a key of 256 characters', () => {
    expect(() => jobIdForKey('send_booking_confirmation', 'k'.repeat(256))).not.toThrow();
  });

  it('refuses a key of 257 characters', () => {
    expect(() => jobIdForKey('send_booking_confirmation', 'k'.repeat(257))).toThrow(InvalidPayloadError);
  });
});

describe('jobIdForKey and broken unicode', () => {
  it('refuses a key with a lone surrogate as an invalid payload, not a crash', () => {
    expect(() => jobIdForKey('send_welcome_email', 'half\ud83c')).toThrow(InvalidPayloadError);
  });
});

describe('the client validates before it touches Redis', () => {
  // Nothing listens on port 1: any Redis work would end in QueueUnavailableError instead.
  const client = createEmailClient({ redisUrl: 'redis://127.0.0.1:1', prefix: 'x', timeoutMs: 200 });
  afterAll(() => client.close());

  it('rejects an unknown task with UnknownTaskError', async () => {
    await expect(client.enqueue('nope' as never, {} as never)).rejects.toBeInstanceOf(UnknownTaskError);
  });

  it('lists every known task when it rejects an unknown one', async () => {
    const error = await client.enqueue('nope' as never, {} as never).catch((caught: unknown) => caught);
    expect(TASK_NAMES).toHaveLength(8);
    for (const name of TASK_NAMES) expect((error as Error).message).toContain(name);
  });

  it('rejects an invalid payload with InvalidPayloadError', async () => {
    const payload = { user_id: 42, booking_data: { quantity: 0 } };
    await expect(client.enqueue('send_booking_confirmation', payload)).rejects.toBeInstanceOf(
      InvalidPayloadError,
    );
  });

  it('names the offending field of an invalid payload', async () => {
    const payload = { user_id: 42, booking_data: { quantity: 0 } };
    const error = await client
      .enqueue('send_booking_confirmation', payload)
      .catch((caught: unknown) => caught);
    expect((error as InvalidPayloadError).problems.map((problem) => problem.field)).toEqual([
      'booking_data.quantity',
    ]);
    expect((error as Error).message).toContain('booking_data.quantity');
  });

  it('rejects a batch holding one invalid payload with InvalidPayloadError', async () => {
    const batch = [
      { name: 'send_welcome_email' as const, payload: { email: 'ada@example.com' } },
      { name: 'send_welcome_email' as const, payload: { email: 'not-an-email' } },
    ];
    await expect(client.enqueueMany(batch)).rejects.toBeInstanceOf(InvalidPayloadError);
  });

  it('rejects an empty idempotency key with InvalidPayloadError', async () => {
    const enqueued = client.enqueue(
      'send_welcome_email',
      { email: 'ada@example.com' },
      { idempotencyKey: '' },
    );
    await expect(enqueued).rejects.toBeInstanceOf(InvalidPayloadError);
  });
});
