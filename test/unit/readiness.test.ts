import { describe, expect, it } from 'vitest';
import { breakerProbe, checkReadiness, type ComponentProbe } from '../../src/queues/readiness.js';
import type { BreakerState } from '../../src/queues/breakers.js';

const ok = (name: string): ComponentProbe => ({ name, check: () => ({ ok: true }) });

describe('checkReadiness', () => {
  it('is ready when every probe is', async () => {
    expect(await checkReadiness([ok('redis'), ok('smtp')])).toEqual({
      ready: true,
      components: { redis: { ok: true }, smtp: { ok: true } },
    });
  });

  it('is not ready when one probe fails or throws, and names it', async () => {
    const readiness = await checkReadiness([
      ok('redis'),
      { name: 'smtp', check: async () => ({ ok: false, error: 'ECONNREFUSED' }) },
      {
        name: 'database',
        check: () => {
          throw new Error('boom');
        },
      },
    ]);
    expect(readiness.ready).toBe(false);
    expect(readiness.components).toEqual({
      redis: { ok: true },
      smtp: { ok: false, error: 'ECONNREFUSED' },
      database: { ok: false, error: 'boom' },
    });
  });

  it('takes a circuit breaker as one more component: ready only while closed', async () => {
    let state: BreakerState = 'closed';
    const probes = [ok('smtp'), breakerProbe('smtp', () => state)];
    expect((await checkReadiness(probes)).ready).toBe(true);
    state = 'half_open';
    expect((await checkReadiness(probes)).components['breaker:smtp']).toEqual({
      ok: false,
      error: 'circuit breaker half-open',
    });
    state = 'open';
    const open = await checkReadiness(probes);
    expect(open.ready).toBe(false);
    expect(open.components['breaker:smtp']).toEqual({ ok: false, error: 'circuit breaker open' });
  });
});
