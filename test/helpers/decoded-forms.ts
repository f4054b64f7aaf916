/**
 * A text as each decoding a reader might apply to it would show it (percent-decoding once or more, HTML entities,
 * JSON escapes, `+` for space, fullwidth forms): a test that looks for an address looks in all of them.
 */
export function decodedForms(text: string): string[] {
  const forms = [text];
  let current = text;
  for (let round = 0; round < 5; round++) {
    const next = current
      .replace(/%u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .replace(/&amp;/gi, '&')
      .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
      .replace(/&#(\d+);/g, (_, dec: string) => String.fromCodePoint(Number(dec)))
      .replace(/&commat;/gi, '@')
      .replace(/\\u([0-9a-f]{4})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
      .normalize('NFKC');
    forms.push(next, next.replace(/\+/g, ' '));
    if (next === current) break;
    current = next;
  }
  return forms;
}
