/**
 * Shared pieces of the payload schemas. Field names are the old Celery producers' (snake_case) and only ever get
 * added to: a new field is optional or defaulted, because jobs enqueued before a deploy must still validate.
 * Unknown keys are ignored (stripped), as the old keyword-argument tasks ignored them too.
 */
import { z } from 'zod';
import { isLocale, isTimeZone } from './locale.js';
import { MAILBOX } from './mailbox.js';

// NUL and other control characters have no place in an email, and PostgreSQL refuses NUL in text. Line breaks
// and tabs pass in free text (a subject collapses them) but not in addresses, URLs, dates or ids.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// eslint-disable-next-line no-control-regex
const CONTROL_OR_BREAK = /[\u0000-\u001f\u007f]/;
const noControl = (pattern: RegExp) => (v: string) => !pattern.test(v);
// Unicode's whole Bidi_Control set (the marks U+061C, U+200E, U+200F, the embeddings and overrides U+202A–U+202E,
// the isolates U+2066–U+2069) and zero-width characters (U+200B–U+200D, U+2060, U+FEFF) change what a name appears
// to say without showing themselves: `‮moc.elgoog` reads as google.com.
const SPOOFING = /[\u061c\u200b-\u200f\u2060\ufeff\u202a-\u202e\u2066-\u2069]/;
const NO_SPOOFING = 'expected no bidirectional-override or zero-width characters';

/** One bare mailbox; a list, a group or a display name is refused (see mailbox.ts). */
export const emailAddress = z
  .string()
  .trim()
  .max(254)
  .regex(MAILBOX, 'expected one email address')
  .refine(noControl(CONTROL_OR_BREAK), 'expected an email address');

// Checked before the trim, which would quietly drop a U+FEFF at either end.
export const shortText = z
  .string()
  .refine(noControl(SPOOFING), NO_SPOOFING)
  .trim()
  .max(200)
  .refine(noControl(CONTROL), 'expected no control characters');
export const longText = z
  .string()
  .refine(noControl(SPOOFING), NO_SPOOFING)
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

/**
 * The old service took user ids from its own database: integers, numeric strings or UUIDs. A numeric string may be
 * zero-padded (`"007"` is user 7) and go beyond 2^53 (a bigint id, which a JSON number cannot carry exactly).
 */
export const userId = z.union(
  [
    z
      .number()
      // zod's int() also refuses what a double cannot hold exactly.
      .int('expected a positive integer up to 2^53 - 1 (send a larger id as a string) or a UUID')
      .positive('expected a positive integer or a UUID'),
    z
      .string()
      .trim()
      .regex(
        /^(0*[1-9]\d{0,19}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/,
        'expected a positive integer or a UUID',
      )
      // "007" is user 7; a UUID keeps its leading zeros.
      .transform((v) => (/^\d+$/.test(v) ? v.replace(/^0+(?=\d)/, '') : v)),
  ],
  { error: 'expected a positive integer or a UUID' },
);

/** Dates arrive as the old producers wrote them; the template helpers format what parses and show the rest as is. */
export const dateText = z
  .union([z.string().trim().max(100).refine(noControl(CONTROL_OR_BREAK), 'expected a date'), z.number()])
  .transform((v) => String(v));

/**
 * Decimal text as Python writes it: `str(Decimal)` gives `"149.50"`, `"1E+2"`, `"1.5E-1"`, `"-0"`, `"0E-8"`.
 * NaN and Infinity are refused.
 */
const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Decimal text, read as the number it writes; a bound first, so no regex runs over a megabyte. */
const decimalText = z
  .string()
  .trim()
  .max(100, 'expected a number')
  .regex(DECIMAL, 'expected a number')
  // `+ 0` turns -0 into 0, which Intl would print as "-$0.00".
  .transform((v) => Number(v) + 0);

/** Money as a number or decimal text (Python's Decimal arrives as a string); never a boolean or an array. */
export const amount = z
  .union([z.number().transform((v) => v + 0), decimalText], { error: 'expected a number' })
  .refine((v) => Number.isFinite(v) && v >= 0 && v < 1e12, 'expected a non-negative amount');

/**
 * A whole number from `min` to `max`, as a number or decimal text (`3`, `"3"`, `"3.0"`, `"1E+1"`); never a boolean
 * (`true` is not 1), an array or `"5abc"`.
 */
export const integer = (min: number, max: number) => {
  const whole = z.number().int('expected a whole number').min(min).max(max);
  return z.union([whole, decimalText.pipe(whole)], { error: 'expected a whole number' });
};

export const currency = z
  .string()
  .trim()
  .regex(/^[A-Za-z]{3}$/, 'expected an ISO 4217 currency code such as USD')
  .transform((v) => v.toUpperCase());

export const count = integer(1, 1_000_000);

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
  /**
   * An ISO 8601 instant after which the email must not be sent. Without an offset (Python's naive
   * `datetime.isoformat()`) it is taken as UTC, and passed on with a `Z`.
   */
  expires_at: z.iso
    .datetime({ offset: true, local: true })
    .transform((v) => (/(z|[+-]\d\d:?\d\d)$/i.test(v) ? v : `${v}Z`))
    .optional(),
});

/** Tasks the old service addressed by email (`task_data` dictionary). */
export const addressed = common.extend({ email: emailAddress, user_data: userData });

/** Tasks the old service addressed by user id; a given `email` (new) skips the database lookup. */
export const byUserId = common.extend({ user_id: userId, email: emailAddress.optional() });

/** Today's date, for the old service's "dates default to today". */
export const today = (): string => new Date().toISOString();
