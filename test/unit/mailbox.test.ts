import { describe, expect, it } from 'vitest';
import { bareMailbox } from '@email-workers/client/internal';

describe('bareMailbox', () => {
  it.each(['ada@example.com', 'jane.doe+tag@mail.example.co.uk', 'ünïcode@exämple.com'])(
    'accepts %s',
    (text) => {
      expect(bareMailbox(text)).toBe(text);
    },
  );

  it('trims spaces around one mailbox', () => {
    expect(bareMailbox('  ada@example.com ')).toBe('ada@example.com');
  });

  it.each([
    ['a list', 'ada@example.com, bob@example.com'],
    ['a list without a space', 'ada@example.com,bob@example.com'],
    ['a group', 'grp: ada@example.com, bob@example.com;'],
    ['a group of one', 'grp:ada@example.com'],
    ['a display name', 'Ada <ada@example.com>'],
    ['a quoted name', '"Ada" ada@example.com'],
    ['a comment', 'ada@example.com(bob@example.com)'],
    ['a header after CRLF', 'ada@example.com\r\nBcc: bob@example.com'],
    ['a trailing line break', 'ada@example.com\n'],
    ['a C1 control', 'ada@example.com\u0085'],
    ['two at signs', 'ada@bob@example.com'],
    ['no domain dot', 'ada@localhost'],
    ['nothing', ''],
    ['a 255-character address', `${'a'.repeat(243)}@example.com`],
  ])('refuses %s', (_what, text) => {
    expect(bareMailbox(text)).toBeUndefined();
  });
});
