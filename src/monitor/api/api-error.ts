/**
 * The task API's one error shape, `{ error: { code, message, details? } }`, with the codes of the README's error
 * table. A handler throws an ApiError; the route table turns it (and anything else) into that shape.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** One entry per bad field, as the 422 answers list them. */
export interface FieldDetail {
  path: string;
  message: string;
}

export const queueUnavailable = (message: string) =>
  new ApiError(503, 'QUEUE_UNAVAILABLE', message, undefined, { 'Retry-After': '1' });

/** The largest body the API reads. */
export const MAX_BODY_BYTES = 64 * 1024;

export const payloadTooLarge = () =>
  new ApiError(413, 'PAYLOAD_TOO_LARGE', `the body is over ${MAX_BODY_BYTES} bytes`);

export const malformedJson = (reason: string) =>
  new ApiError(400, 'INVALID_REQUEST', `malformed JSON: ${reason}`);

export function invalid(details: FieldDetail[], message?: string): ApiError {
  return new ApiError(
    422,
    'INVALID_PAYLOAD',
    message ?? details.map((d) => `${d.path || '(payload)'}: ${d.message}`).join('; '),
    details,
  );
}
