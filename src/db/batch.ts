/**
 * Natural batching: items submitted while a round trip is in flight go together in the next one. An idle
 * system sends each item at once (no timer, no added latency); a busy one pays one round trip per batch
 * instead of one per item. A batch that fails is split, so an item only ever fails for itself.
 */
export function batched<I, O>(flush: (items: I[]) => Promise<O[]>, maxBatch = 200): (item: I) => Promise<O> {
  let pending: Array<{ item: I; resolve: (value: O) => void; reject: (error: unknown) => void }> = [];
  let inFlight = false;

  const run = async () => {
    inFlight = true;
    while (pending.length) {
      const batch = pending.slice(0, maxBatch);
      pending = pending.slice(batch.length);
      try {
        const results = await flush(batch.map((entry) => entry.item));
        batch.forEach((entry, i) => entry.resolve(results[i]!));
      } catch (error) {
        if (batch.length === 1) {
          batch[0]!.reject(error);
          continue;
        }
        // One bad item must not fail its neighbours: each goes again on its own.
        for (const entry of batch) {
          await flush([entry.item]).then(([result]) => entry.resolve(result!), entry.reject);
        }
      }
    }
    inFlight = false;
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!inFlight) void run();
    });
}
