/**
 * RFC 8058 one-click unsubscribe for the tasks listed in SUBSCRIBED_TASKS. The link carries a token that names
 * the address and proves we made it: `<base64url(address)>.<base64url(HMAC-SHA256(UNSUBSCRIBE_SECRET, address))>`,
 * so the monitor's `POST /unsubscribe` needs no table to find whom it is for, and nobody can unsubscribe an
 * address of their choosing.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface UnsubscribeSettings {
  secret: string;
  /** PUBLIC_BASE_URL: where the monitor is reached from outside, without a trailing slash. */
  baseUrl: string;
}

const mac = (secret: string, address: string) =>
  createHmac('sha256', secret).update(address.trim().toLowerCase()).digest();

export function unsubscribeToken(secret: string, address: string): string {
  const normalized = address.trim().toLowerCase();
  return `${Buffer.from(normalized).toString('base64url')}.${mac(secret, normalized).toString('base64url')}`;
}

/** The address the token names, or undefined when the token is not one of ours. */
export function addressOfToken(secret: string, token: string): string | undefined {
  const [encoded, signature, extra] = token.split('.');
  if (!encoded || !signature || extra !== undefined || token.length > 1_000) return undefined;
  const address = Buffer.from(encoded, 'base64url').toString('utf8');
  const given = Buffer.from(signature, 'base64url');
  const expected = mac(secret, address);
  return given.length === expected.length && timingSafeEqual(given, expected) ? address : undefined;
}

/** The two headers RFC 8058 asks for. */
export function listUnsubscribeHeaders(
  settings: UnsubscribeSettings,
  address: string,
): Record<string, string> {
  const url = `${settings.baseUrl}/unsubscribe?token=${unsubscribeToken(settings.secret, address)}`;
  return { 'List-Unsubscribe': `<${url}>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' };
}
