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

  it('rejects every item of a failed flush and goes on with the next batch', async () => {
    let calls = 0;
    const submit = batched(async (items: number[]) => {
      calls++;
      if (calls === 2) throw new Error('database gone');
      await new Promise((resolve) => setImmediate(resolve));
      return items;
    });
    const first = submit(1);
    const failing = [submit(2), submit(3)];
    await first;
    await expect(failing[0]).rejects.toThrow('database gone');
    await expect(failing[1]).rejects.toThrow('database gone');
    expect(await submit(4)).toBe(4);
  });
});
