import { describe, expect, it } from 'vitest';
import { batched } from '../../src/db/batch.js';

function recorder() {
  const flushes: number[][] = [];
  let release: () => void = () => undefined;
  const flush = async (items: number[]) => {
    flushes.push(items);
    await new Promise<void>((resolve) => (release = resolve));
    return items.map((n) => n * 10);
  };
  return { flushes, flush, release: () => release() };
}

describe('batched', () => {
  it('sends the first item at once, without waiting for company', async () => {
    const r = recorder();
    const submit = batched(r.flush);
    const result = submit(1);
    expect(r.flushes).toEqual([[1]]);
    r.release();
    expect(await result).toBe(10);
  });

  it('groups the items submitted while a flush is in flight into the next one, results in order', async () => {
    const r = recorder();
    const submit = batched(r.flush);
    const results = [submit(1), submit(2), submit(3), submit(4)];
    expect(r.flushes).toEqual([[1]]);
    r.release();
    await results[0];
    expect(r.flushes).toEqual([[1], [2, 3, 4]]);
    r.release();
    expect(await Promise.all(results)).toEqual([10, 20, 30, 40]);
  });

  it('caps a batch at maxBatch items', async () => {
    const r = recorder();
    const submit = batched(r.flush, 2);
    const results = [1, 2, 3, 4, 5].map((n) => submit(n));
    for (let i = 0; i < 3; i++) {
      r.release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(results);
    expect(r.flushes).toEqual([[1], [2, 3], [4, 5]]);
  });

  it('splits a failed batch, so that only the item at fault fails', async () => {
    const submit = batched(async (items: number[]) => {
      await new Promise((resolve) => setImmediate(resolve));
      if (items.includes(3)) throw new Error(`bad item in ${items.join(',')}`);
      return items;
    });
    const first = submit(1);
    const rest = [submit(2), submit(3), submit(4)];
    await first;
    expect(await rest[0]).toBe(2);
    await expect(rest[1]).rejects.toThrow('bad item in 3');
    expect(await rest[2]).toBe(4);
    expect(await submit(5)).toBe(5);
  });
});
