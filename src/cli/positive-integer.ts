import { UsageError } from './usage-error.js';

/** A flag's integer value from 1 to `max`, or undefined when the flag is absent; a UsageError otherwise. */
export function positiveInteger(flag: string, text: string | undefined, max: number): number | undefined {
  if (text === undefined) return undefined;
  const value = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${flag}: expected an integer from 1 to ${max}, got "${text}"`);
  }
  return value;
}
