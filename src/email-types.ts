/**
 * The shapes that `mail/`, `db/` and `tasks/` all speak, declared once at the base of the layers (those three
 * never import each other).
 */

/** Who an email goes to. */
export interface Recipient {
  email: string;
  /** From USERS_NAME_COLUMN, when configured. */
  name?: string | undefined;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface OutgoingEmail extends RenderedEmail {
  to: string;
  toName?: string | undefined;
  /** Stable per idempotency key, so every attempt and every copy carries the same Message-ID. */
  messageId?: string | undefined;
  /** Extra header fields (List-Unsubscribe for subscribed mail). */
  headers?: Readonly<Record<string, string>> | undefined;
}

export interface SentEmail {
  messageId: string;
  /** The server's final reply, e.g. `250 2.0.0 OK queued as 123`. */
  response: string;
  /** The transport that sent it: `primary`, `fallback` or `outbox` (the ledger's `relay`). */
  relay?: string | undefined;
}

/** What the ledger records once the SMTP server has accepted an email. */
export interface SentRecord extends SentEmail {
  subject: string;
}
