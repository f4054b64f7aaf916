import { describe, expect, it } from 'vitest';
import { decodeIngestMessage } from '../../../src/bridges/ingest-message.js';

describe('decodeIngestMessage', () => {
  it('reads task, payload (JSON text) and idempotency_key', () => {
    const decoded = decodeIngestMessage(
      { task: 'send_welcome_email', payload: '{"email":"a@example.com"}', idempotency_key: 'k' },
      's',
      '1-0',
      's:1-0',
    );
    expect(decoded).toMatchObject({
      request: {
        name: 'send_welcome_email',
        payload: { email: 'a@example.com' },
        options: { idempotencyKey: 'k' },
      },
      origin: 's',
      messageId: '1-0',
    });
  });

  it('keys an entry without a key by its stream and id', () => {
    const decoded = decodeIngestMessage({ task: 'health_check' }, 's', '1-0', 's:1-0');
    expect(decoded).toMatchObject({
      request: { name: 'health_check', options: { idempotencyKey: 's:1-0' } },
    });
  });

  it.each([
    [{ payload: '{}' }, /task: expected a task name/],
    [{ task: 'send_welcome_email', payload: '[1]' }, /payload: expected a JSON object/],
    [{ task: 'send_welcome_email', payload: '{' }, /payload is not valid JSON/],
    [{ task: 'nope' }, /unknown task nope/],
  ])('turns %j into an error with the reason', (fields, reason) => {
    const decoded = decodeIngestMessage(fields, 's', '1-0', undefined);
    expect('error' in decoded && decoded.error.message).toMatch(reason);
  });
});
