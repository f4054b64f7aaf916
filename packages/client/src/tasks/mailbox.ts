/**
 * One bare mailbox (`ada@example.com`): the only form of address the service sends to, whether a payload or the
 * users table gave it. Shared by the task contract and the users lookup (tasks/ and db/ do not import each other).
 */

// No whitespace, no second @, and none of the characters with which an address becomes a list (`a@x, b@y`), a
// group (`grp: a@x, b@y;`), a display name (`Ada <ada@x>`, `"Ada" ada@x`) or a comment (`ada@x (b@y)`):
// nodemailer would read each of those as what it says, and send one email to several recipients.
export const MAILBOX = /^[^\s@<>",;:()\\]+@[^\s@<>",;:()\\]+\.[^\s@<>",;:()\\]+$/;

// Line breaks (a header injected with CRLF), C0 and C1 controls.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** The one bare mailbox `text` holds, trimmed, or undefined when it holds anything else. */
export function bareMailbox(text: string): string | undefined {
  if (CONTROL.test(text)) return undefined;
  const address = text.trim();
  return address.length <= 254 && MAILBOX.test(address) ? address : undefined;
}
