/**
 * The handler every email task shares: find the recipient, claim the delivery, render, send, record. Each task says
 * only what differs: the keys its result echoes (the old service's), and any values its template needs that
 * are derived rather than sent (a deadline, a default link).
 */
import type { Recipient, TaskContext } from './define-task.js';

export interface EmailPayload {
  email?: string | undefined;
  user_id?: string | number | undefined;
  user_data?: { username?: string | undefined; full_name?: string | undefined } | undefined;
  locale?: string | undefined;
  time_zone?: string | undefined;
}

/** The result old callers read, plus what the SMTP server said. */
export interface EmailSentResult {
  success: true;
  email: string;
  timestamp: string;
  message_id: string;
  smtp_response: string;
  /** Present when the ledger showed the email already sent: nothing was sent this time. */
  duplicate?: true;
  [echo: string]: unknown;
}

export interface TemplatedEmailOptions<P> {
  /** Folder under `templates/`; always the task's name. */
  template: string;
  /** The old service's result keys besides success, email and timestamp. */
  echo: (payload: P) => Record<string, unknown>;
  /** Extra template values derived from the payload and the job. */
  view?: (payload: P, ctx: TaskContext) => Record<string, unknown>;
}

export function sendTemplatedEmail<P extends EmailPayload>(options: TemplatedEmailOptions<P>) {
  return async (payload: P, ctx: TaskContext): Promise<EmailSentResult> => {
    const recipient = await resolveRecipient(payload, ctx);
    const claim = await ctx.delivery.claim(recipient.email);
    if (claim.status === 'sent') {
      return result(
        recipient.email,
        { messageId: claim.messageId ?? '', response: claim.response ?? '' },
        true,
      );
    }
    const locale = payload.locale ?? ctx.defaults.locale;
    const data: Record<string, unknown> = {
      ...(payload as Record<string, unknown>),
      ...options.view?.(payload, ctx),
      email: recipient.email,
      name: payload.user_data?.full_name ?? payload.user_data?.username ?? recipient.name,
      locale,
      time_zone: payload.time_zone ?? ctx.defaults.timeZone,
    };
    const content = ctx.render(options.template, data, locale);
    const sent = await ctx.send({ ...content, to: recipient.email, toName: recipient.name });
    await ctx.delivery.sent({ subject: content.subject, ...sent });
    return result(recipient.email, sent, false);

    function result(
      email: string,
      sent: { messageId: string; response: string },
      duplicate: boolean,
    ): EmailSentResult {
      return {
        success: true as const,
        email,
        ...options.echo(payload),
        timestamp: ctx.now().toISOString(),
        message_id: sent.messageId,
        smtp_response: sent.response,
        ...(duplicate ? { duplicate: true as const } : {}),
      };
    }
  };
}

async function resolveRecipient(payload: EmailPayload, ctx: TaskContext): Promise<Recipient> {
  if (payload.email) return { email: payload.email };
  if (payload.user_id === undefined)
    throw new TypeError('schema lets through a payload without email or user_id');
  return ctx.findRecipient(payload.user_id);
}
