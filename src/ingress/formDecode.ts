/**
 * `application/x-www-form-urlencoded` decoding to bytes (WHATWG URL standard, section
 * 5.1): `+` is a space, `%XX` is one byte, a `%` not followed by two hex digits stays
 * as it is. Values stay bytes so invalid UTF-8 can be detected before anything could
 * replace it with U+FFFD.
 */

const PLUS = 0x2b;
const SPACE = 0x20;
const PERCENT = 0x25;
const AMPERSAND = 0x26;
const EQUALS = 0x3d;

export interface FormPair {
  key: string;
  value: Buffer;
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  return -1;
}

export function percentDecode(input: Buffer): Buffer {
  const output = Buffer.allocUnsafe(input.length);
  let length = 0;

  for (let index = 0; index < input.length; index++) {
    const byte = input[index] as number;
    const high = byte === PERCENT ? hexValue(input[index + 1]) : -1;
    const low = high >= 0 ? hexValue(input[index + 2]) : -1;

    if (low >= 0) {
      output[length++] = high * 16 + low;
      index += 2;
    } else {
      output[length++] = byte === PLUS ? SPACE : byte;
    }
  }

  return output.subarray(0, length);
}

/**
 * Splits a form body or query string into decoded pairs, in order. Keys are decoded
 * leniently to text (they are only compared with known names); values stay bytes.
 * Stops with `tooMany` once more than `maxPairs` pairs are seen.
 */
export function decodeForm(
  input: Buffer,
  maxPairs: number,
): { pairs: FormPair[]; tooMany: boolean } {
  const pairs: FormPair[] = [];
  let start = 0;

  while (start <= input.length) {
    let end = input.indexOf(AMPERSAND, start);
    if (end === -1) end = input.length;

    const piece = input.subarray(start, end);
    start = end + 1;
    if (piece.length === 0) continue;
    if (pairs.length === maxPairs) return { pairs, tooMany: true };

    const equals = piece.indexOf(EQUALS);
    const rawKey = equals === -1 ? piece : piece.subarray(0, equals);
    const rawValue = equals === -1 ? Buffer.alloc(0) : piece.subarray(equals + 1);
    pairs.push({
      key: percentDecode(rawKey).toString('utf8'),
      value: percentDecode(rawValue),
    });
  }

  return { pairs, tooMany: false };
}
