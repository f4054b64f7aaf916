/**
 * Shared pieces of the payload schemas. Field names are the old Celery producers' (snake_case) and only ever get
 * added to: a new field is optional or defaulted, because jobs enqueued before a deploy must still validate.
 * Unknown keys are ignored (stripped), as the old keyword-argument tasks ignored them too.
 */
import { z } from 'zod';
import { isLocale, isTimeZone } from '../locale.js';
import { MAILBOX } from '../mailbox.js';

// NUL and other control characters have no place in an email, and PostgreSQL refuses NUL in text. Line breaks
// and tabs pass in free text (a subject collapses them) but not in addresses, URLs, dates or ids.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f]/;
const noControl = (pattern: RegExp) => (v: string) => !pattern.test(v);

/** One bare mailbox; a list, a group or a display name is refused (see mailbox.ts). */
export const emailAddress = z
  .string()
  .trim()
  .max(254)
  .regex(MAILBOX, 'expected one email address')
  .refine(noControl(CONTROL_OR_BREAK), 'expected an email address');

export const shortText = z
  .string()
  .trim()
  .max(200)
  .refine(noControl(CONTROL), 'expected no control characters');
export const longText = z
  .string()
  .trim()
  .max(2000)
  .refine(noControl(CONTROL), 'expected no control characters');

export const httpUrl = z
  .string()
  .trim()
  .max(2048)
  .refine(noControl(CONTROL_OR_BREAK), 'expected an http or https URL')
  .refine((v) => {
    try {
      return ['http:', 'https:'].includes(new URL(v).protocol);
    } catch {
      return false;
    }
  }, 'expected an http or https URL');

/** The old service took user ids from its own database: integers, numeric strings or UUIDs. */
export const userId = z.union([
  z.number().int().positive(),
  z
    .string()
    .trim()
    .regex(
      /^([1-9]\d{0,17}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/,
      'expected a positive integer or a UUID',
    ),
]);

/** Dates arrive as the old producers wrote them; the template helpers format what parses and show the rest as is. */
export const dateText = z
  .union([z.string().trim().max(100).refine(noControl(CONTROL_OR_BREAK), 'expected a date'), z.number()])
  .transform((v) => String(v));

/** Money as a number or a numeric string (Python's Decimal arrives as a string). */
export const amount = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^-?\d+(\.\d+)?$/, 'expected a number'),
  ])
  .transform((v) => Number(v))
  .refine((v) => Number.isFinite(v) && v >= 0 && v < 1e12, 'expected a non-negative amount');

export const currency = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 currency code such as USD')
  .transform((v) => v.toUpperCase());

export const count = z.coerce.number().int().min(1).max(1_000_000);

export const userData = z
  .object({
    username: shortText.optional(),
    full_name: shortText.optional(),
  })
  .optional();

/** Fields every payload may carry (all new). */
export const common = z.object({
  locale: z.string().trim().max(35).refine(isLocale, 'expected a BCP 47 locale such as en-US').optional(),
  time_zone: z
    .string()
    .trim()
    .max(64)
    .refine(isTimeZone, 'expected an IANA time zone such as Europe/Berlin')
    .optional(),
  /** Logged with every line about the job, to follow a request across services. */
  correlation_id: z
    .string()
    .trim()
    .max(200)
    .refine(noControl(CONTROL_OR_BREAK), 'expected no control characters or line breaks')
    .optional(),
  /** An ISO 8601 instant after which the email must not be sent. */
  expires_at: z.iso.datetime({ offset: true }).optional(),
});

/** Tasks the old service addressed by email (`task_data` dictionary). */
export const addressed = common.extend({ email: emailAddress, user_data: userData });

/** Tasks the old service addressed by user id; a given `email` (new) skips the database lookup. */
export const byUserId = common.extend({ user_id: userId, email: emailAddress.optional() });

/** Today's date, for the old service's "dates default to today". */
export const today = (): string => new Date().toISOString();
