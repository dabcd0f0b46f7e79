/**
 * A JSON body decoder for call params. `JSON.parse` cannot serve: it turns numbers into
 * doubles (`12345678901234567890` would lose digits) and strings into UTF-16, hiding
 * invalid UTF-8. This one reads the body's bytes (RFC 8259) and keeps each top-level
 * member as the exact bytes of its string, or the text of its number as written.
 * Members of any other kind are reported as not text.
 */

export const NOT_TEXT = Symbol('not text');

export type JsonMember = { key: string; value: Buffer | typeof NOT_TEXT };

export class JsonSyntaxError extends Error {
  constructor(offset: number) {
    super(`invalid JSON at byte ${offset}`);
    this.name = 'JsonSyntaxError';
  }
}

const MAX_DEPTH = 64;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Record<string, number> = {
  '"': 0x22,
  '\\': 0x5c,
  '/': 0x2f,
  b: 0x08,
  f: 0x0c,
  n: 0x0a,
  r: 0x0d,
  t: 0x09,
};

/** Encodes a code point as UTF-8; a lone surrogate gives its (invalid) 3-byte form. */
function encodeCodePoint(codePoint: number, out: number[]): void {
  if (codePoint < 0x80) {
    out.push(codePoint);
  } else if (codePoint < 0x800) {
    out.push(0xc0 | (codePoint >> 6), 0x80 | (codePoint & 0x3f));
  } else if (codePoint < 0x10000) {
    out.push(
      0xe0 | (codePoint >> 12),
      0x80 | ((codePoint >> 6) & 0x3f),
      0x80 | (codePoint & 0x3f),
    );
  } else {
    out.push(
      0xf0 | (codePoint >> 18),
      0x80 | ((codePoint >> 12) & 0x3f),
      0x80 | ((codePoint >> 6) & 0x3f),
      0x80 | (codePoint & 0x3f),
    );
  }
}

class Reader {
  private offset = 0;
  private readonly text: string;

  constructor(private readonly bytes: Buffer) {
    // latin1 maps each byte to one char, so offsets in `text` are byte offsets.
    this.text = bytes.toString('latin1');
  }

  members(): JsonMember[] {
    this.skipSpace();
    this.expect('{');
    const members: JsonMember[] = [];

    this.skipSpace();
    if (this.peek() === '}') {
      this.offset++;
    } else {
      do {
        this.skipSpace();
        const key = this.string().toString('utf8');
        this.skipSpace();
        this.expect(':');
        this.skipSpace();
        members.push({ key, value: this.memberValue() });
        this.skipSpace();
      } while (this.take(','));
      this.expect('}');
    }

    this.skipSpace();
    if (this.offset !== this.text.length) this.fail();
    return members;
  }

  private memberValue(): Buffer | typeof NOT_TEXT {
    const next = this.peek();
    if (next === '"') return this.string();
    if (next === '-' || (next !== undefined && next >= '0' && next <= '9')) {
      return this.number();
    }
    this.skipValue(1);
    return NOT_TEXT;
  }

  private number(): Buffer {
    NUMBER.lastIndex = this.offset;
    const match = NUMBER.exec(this.text);
    if (match === null) this.fail();
    this.offset += match[0].length;
    return Buffer.from(match[0], 'latin1');
  }

  private string(): Buffer {
    this.expect('"');
    const out: number[] = [];

    for (;;) {
      const code = this.bytes[this.offset++];
      if (code === undefined || code < 0x20) this.fail();
      if (code === 0x22) return Buffer.from(out);
      if (code !== 0x5c) {
        out.push(code);
        continue;
      }

      const escape = this.text[this.offset++] ?? '';
      const simple = ESCAPES[escape];
      if (simple !== undefined) {
        out.push(simple);
      } else if (escape === 'u') {
        encodeCodePoint(this.unicodeEscape(), out);
      } else {
        this.fail();
      }
    }
  }

  private unicodeEscape(): number {
    const high = this.hex4();
    const isHighSurrogate = high >= 0xd800 && high <= 0xdbff;
    if (!isHighSurrogate || this.text.slice(this.offset, this.offset + 2) !== '\\u') {
      return high;
    }

    const save = this.offset;
    this.offset += 2;
    const low = this.hex4();
    if (low >= 0xdc00 && low <= 0xdfff) {
      return 0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00);
    }

    this.offset = save;
    return high;
  }

  private hex4(): number {
    const digits = this.text.slice(this.offset, this.offset + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail();
    this.offset += 4;
    return parseInt(digits, 16);
  }

  /** Skips any JSON value, checking its syntax, down to a bounded depth. */
  private skipValue(depth: number): void {
    if (depth > MAX_DEPTH) this.fail();
    const next = this.peek();

    if (next === '"') {
      this.string();
    } else if (next === '{' || next === '[') {
      this.skipContainer(next, depth);
    } else if (next === '-' || (next !== undefined && next >= '0' && next <= '9')) {
      this.number();
    } else {
      const literal = ['true', 'false', 'null'].find((word) =>
        this.text.startsWith(word, this.offset),
      );
      if (literal === undefined) this.fail();
      this.offset += literal.length;
    }
  }

  private skipContainer(open: '{' | '[', depth: number): void {
    const close = open === '{' ? '}' : ']';
    this.offset++;
    this.skipSpace();
    if (this.take(close)) return;

    do {
      this.skipSpace();
      if (open === '{') {
        this.string();
        this.skipSpace();
        this.expect(':');
        this.skipSpace();
      }
      this.skipValue(depth + 1);
      this.skipSpace();
    } while (this.take(','));
    this.expect(close);
  }

  private skipSpace(): void {
    while (/[ \t\n\r]/.test(this.text[this.offset] ?? '')) this.offset++;
  }

  private peek(): string | undefined {
    return this.text[this.offset];
  }

  private take(char: string): boolean {
    if (this.text[this.offset] !== char) return false;
    this.offset++;
    return true;
  }

  private expect(char: string): void {
    if (!this.take(char)) this.fail();
  }

  private fail(): never {
    throw new JsonSyntaxError(this.offset);
  }
}

/** Decodes a JSON body whose top level must be an object. Throws JsonSyntaxError. */
export function decodeJsonMembers(body: Buffer): JsonMember[] {
  // RFC 8259 section 8.1: a parser may ignore a leading byte order mark.
  const hasBom = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf;
  return new Reader(hasBom ? body.subarray(3) : body).members();
}
