/**
 * Sensitive payload fields (the OTP code) encrypted at rest: the typed client and the task API replace each with
 * `{ "$enc": "v1:<key id>:<iv>:<tag>:<ciphertext>" }` (AES-256-GCM, base64url parts) before the job reaches Redis,
 * and the worker puts the clear value back just before validation and rendering. Only node:crypto and the errors
 * are imported, so producers and workers alike may use it.
 *
 * Keys rotate: PAYLOAD_ENCRYPTION_KEY is a comma-separated list; the first encrypts, any decrypts (a field names
 * its key by id: the first 8 hex digits of the key's SHA-256). The task name and field name are bound to the
 * ciphertext as additional data, so a code cannot be moved to another task's or field's payload.
 */
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  createSecretKey,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import { UndecryptablePayloadError } from './errors.js';

export interface EncryptionKey {
  /** 8 hex digits of the key's SHA-256: names the key without revealing it. */
  id: string;
  /** A KeyObject, not a Buffer: the configuration is frozen, and it keeps the bytes out of logs and inspections. */
  key: KeyObject;
}

export interface PayloadEncryption {
  /** The first encrypts; every one decrypts. Empty: encryption is off (fields marked encrypted still fail). */
  keys: readonly EncryptionKey[];
  /** Per task, the top-level payload fields that are encrypted. */
  fields: Readonly<Record<string, readonly string[]>>;
}

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;

/** A 32-byte key in base64 (or base64url) → the key, or undefined when it is not one. */
export function encryptionKey(text: string): EncryptionKey | undefined {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32) return undefined;
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 8), key: createSecretKey(key) };
}

/** An encrypted field as stored. */
export interface EncryptedValue {
  $enc: string;
}

export function isEncrypted(value: unknown): value is EncryptedValue {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { $enc?: unknown }).$enc === 'string' &&
    Object.keys(value).length === 1
  );
}

/**
 * A copy of `payload` with the task's sensitive fields encrypted (the payload is returned as it is when
 * encryption is off, the task has none, or none is present). Validate before: the schema needs the clear value.
 */
export function encryptPayload(task: string, payload: unknown, encryption: PayloadEncryption): unknown {
  const fields = encryption.fields[task];
  const key = encryption.keys[0];
  if (!key || !fields?.length || !payload || typeof payload !== 'object' || Array.isArray(payload))
    return payload;
  const copy: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
  for (const field of fields) {
    const value = copy[field];
    if (value === undefined || value === null || isEncrypted(value)) continue;
    copy[field] = { $enc: seal(key, task, field, JSON.stringify(value)) };
  }
  return copy;
}

/**
 * A copy of `payload` with every encrypted top-level field decrypted, whatever ENCRYPTED_FIELDS says now (a job
 * enqueued before a change still runs). Throws UndecryptablePayloadError, which fails the job for good.
 */
export function decryptPayload(task: string, payload: unknown, keys: readonly EncryptionKey[]): unknown {
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) return payload;
  const entries = Object.entries(payload as Record<string, unknown>);
  if (!entries.some(([, value]) => isEncrypted(value))) return payload;
  return Object.fromEntries(
    entries.map(([field, value]) => [
      field,
      isEncrypted(value) ? open(keys, task, field, value.$enc) : value,
    ]),
  );
}

/**
 * The payload with its sensitive fields replaced by a keyed hash, for fingerprints kept in Redis (the API's
 * Idempotency-Key record): equal codes still compare equal, and a plain hash of a 6-digit code is not left to be
 * guessed back. Unchanged when encryption is off.
 */
export function fingerprintPayload(task: string, payload: unknown, encryption: PayloadEncryption): unknown {
  const fields = encryption.fields[task];
  const key = encryption.keys[0];
  if (!key || !fields?.length || !payload || typeof payload !== 'object' || Array.isArray(payload))
    return payload;
  const copy: Record<string, unknown> = { ...(payload as Record<string, unknown>) };
  for (const field of fields) {
    if (copy[field] === undefined || copy[field] === null) continue;
    const mac = createHmac('sha256', key.key).update(`${task}.${field}:${JSON.stringify(copy[field])}`);
    copy[field] = { $hmac: mac.digest('hex') };
  }
  return copy;
}

function seal(key: EncryptionKey, task: string, field: string, plain: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, key.key, iv);
  cipher.setAAD(Buffer.from(`${task}.${field}`));
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [VERSION, key.id, iv, cipher.getAuthTag(), ciphertext]
    .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
    .join(':');
}

function open(keys: readonly EncryptionKey[], task: string, field: string, sealed: string): unknown {
  const [version, keyId, iv, tag, ciphertext, ...rest] = sealed.split(':');
  if (version !== VERSION || !keyId || !iv || !tag || ciphertext === undefined || rest.length) {
    throw new UndecryptablePayloadError(task, field, 'not a v1 ciphertext');
  }
  const key = keys.find((candidate) => candidate.id === keyId);
  if (!key) {
    throw new UndecryptablePayloadError(
      task,
      field,
      keys.length
        ? `encrypted with key ${keyId}, which is not in PAYLOAD_ENCRYPTION_KEY`
        : 'PAYLOAD_ENCRYPTION_KEY is not set',
    );
  }
  try {
    const decipher = createDecipheriv(ALGORITHM, key.key, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(`${task}.${field}`));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    const plain = Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]);
    return JSON.parse(plain.toString('utf8'));
  } catch {
    throw new UndecryptablePayloadError(
      task,
      field,
      `does not decrypt with key ${keyId} (altered or another task's)`,
    );
  }
}
