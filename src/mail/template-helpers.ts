/**
 * The formatting helpers every template may use. Locale and time zone come from the rendered data (`locale`,
 * `time_zone`), so one compiled template serves every recipient; Intl formatters are costly to build, so each is
 * built once per locale and zone (or currency) and kept.
 */
import type { HelperDelegate, HelperOptions } from 'handlebars';
import type { Config } from '../config.js';

export const HELPER_NAMES = ['money', 'date', 'datetime', 'plural'] as const;

type HelperName = (typeof HELPER_NAMES)[number];

export function createTemplateHelpers(defaults: Config['defaults']): Record<HelperName, HelperDelegate> {
  const numberFormats = new BoundedMap<Intl.NumberFormat>();
  const dateFormats = new BoundedMap<Intl.DateTimeFormat>();
  const pluralRules = new BoundedMap<Intl.PluralRules>();

  const localeOf = (options: HelperOptions): string => stringField(options, 'locale') ?? defaults.locale;
  const timeZoneOf = (options: HelperOptions): string =>
    stringField(options, 'time_zone') ?? defaults.timeZone;

  function moneyFormat(locale: string, currency: string): Intl.NumberFormat {
    const key = `${locale} ${currency}`;
    let format = numberFormats.get(key);
    if (!format) {
      format = new Intl.NumberFormat(locale, { style: 'currency', currency });
      numberFormats.set(key, format);
    }
    return format;
  }

  function dateFormat(kind: 'date' | 'datetime', locale: string, timeZone: string): Intl.DateTimeFormat {
    const key = `${kind} ${locale} ${timeZone}`;
    let format = dateFormats.get(key);
    if (!format) {
      format = new Intl.DateTimeFormat(
        locale,
        kind === 'date'
          ? { dateStyle: 'long', timeZone }
          : // dateStyle cannot be combined with timeZoneName, so the parts are spelled out.
            {
              year: 'numeric',
              month: 'long',
              day: 'numeric',
              hour: 'numeric',
              minute: '2-digit',
              timeZoneName: 'short',
              timeZone,
            },
      );
      dateFormats.set(key, format);
    }
    return format;
  }

  function formatDate(kind: 'date' | 'datetime', value: unknown, options: HelperOptions): string {
    const parsed = parseDate(value);
    if (!parsed) return value === undefined || value === null ? '' : String(value);
    // A bare date names a calendar day, not an instant: shifting it into a zone west of UTC would show the day before.
    const timeZone = parsed.dateOnly ? 'UTC' : timeZoneOf(options);
    return dateFormat(parsed.dateOnly ? 'date' : kind, localeOf(options), timeZone).format(parsed.date);
  }

  return {
    /** `{{money amount currency}}`; currency defaults to DEFAULT_CURRENCY. */
    money(...args: unknown[]): string {
      const options = args.pop() as HelperOptions;
      const [amount, currency] = args;
      const value = typeof amount === 'string' && amount.trim() !== '' ? Number(amount) : amount;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        return amount === undefined || amount === null ? '' : String(amount);
      }
      const code = typeof currency === 'string' && currency !== '' ? currency : defaults.currency;
      return moneyFormat(localeOf(options), code.toUpperCase()).format(value);
    },
    /** `{{date value}}`: the day only, e.g. "May 1, 2026". */
    date: (value: unknown, options: HelperOptions) => formatDate('date', value, options),
    /** `{{datetime value}}`: day and time with the zone's name, e.g. "May 1, 2026 at 6:00 PM UTC". */
    datetime: (value: unknown, options: HelperOptions) => formatDate('datetime', value, options),
    /** `{{plural count "ticket" "tickets"}}`, by the locale's own rule for "one". */
    plural(count: unknown, singular: unknown, plural: unknown, options: HelperOptions): unknown {
      const locale = localeOf(options);
      let rules = pluralRules.get(locale);
      if (!rules) {
        rules = new Intl.PluralRules(locale);
        pluralRules.set(locale, rules);
      }
      return rules.select(Number(count)) === 'one' ? singular : plural;
    },
  };
}

function stringField(options: HelperOptions, key: string): string | undefined {
  const root: unknown = options.data?.root;
  const value = root && typeof root === 'object' ? (root as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Only ISO 8601 counts as a date: V8's lenient parser would turn "Spring 2026" into a day. A date-time without an
 * offset (Python's naive isoformat) is read as UTC, so the output does not depend on the worker host's zone.
 */
function parseDate(value: unknown): { date: Date; dateOnly: boolean } | undefined {
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? undefined : { date: value, dateOnly: false };
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  const dateOnly = ISO_DATE.test(text);
  const match = dateOnly ? undefined : ISO_DATE_TIME.exec(text);
  if (!dateOnly && !match) return undefined;
  const date = new Date(dateOnly ? `${text}T00:00:00Z` : `${text.replace(' ', 'T')}${match?.[1] ? '' : 'Z'}`);
  return Number.isNaN(date.getTime()) ? undefined : { date, dateOnly };
}

/**
 * A formatter cache keyed by what producers send (locale, zone, currency): valid tags are endless, so the cache
 * starts over past a size no real mix of them reaches.
 */
class BoundedMap<V> extends Map<string, V> {
  static readonly LIMIT = 500;
  override set(key: string, value: V): this {
    if (this.size >= BoundedMap.LIMIT) this.clear();
    return super.set(key, value);
  }
}
