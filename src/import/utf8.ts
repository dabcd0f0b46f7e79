import { isUtf8 } from 'node:buffer';

/**
 * Finds where bytes stop being UTF-8, so a bad file can be named by byte offset and
 * line. The well-formed sequences are those of the Unicode Standard, table 3-7: no
 * overlong forms, no surrogates, nothing past U+10FFFF.
 */

/** The allowed range of the second byte after each kind of lead byte, and the length. */
interface LeadByte {
  length: number;
  secondMin: number;
  secondMax: number;
}

function leadByte(byte: number): LeadByte | undefined {
  if (byte >= 0xc2 && byte <= 0xdf)
    return { length: 2, secondMin: 0x80, secondMax: 0xbf };
  if (byte === 0xe0) return { length: 3, secondMin: 0xa0, secondMax: 0xbf };
  if (byte === 0xed) return { length: 3, secondMin: 0x80, secondMax: 0x9f };
  if (byte >= 0xe1 && byte <= 0xef)
    return { length: 3, secondMin: 0x80, secondMax: 0xbf };
  if (byte === 0xf0) return { length: 4, secondMin: 0x90, secondMax: 0xbf };
  if (byte >= 0xf1 && byte <= 0xf3)
    return { length: 4, secondMin: 0x80, secondMax: 0xbf };
  if (byte === 0xf4) return { length: 4, secondMin: 0x80, secondMax: 0x8f };
  return undefined;
}

/** The length of the well-formed sequence at `offset`, or 0 when there is none. */
function sequenceLength(bytes: Uint8Array, offset: number): number {
  const first = bytes[offset]!;
  if (first < 0x80) return 1;

  const lead = leadByte(first);
  if (lead === undefined) return 0;
  const second = bytes[offset + 1];
  if (second === undefined || second < lead.secondMin || second > lead.secondMax)
    return 0;
  for (let next = offset + 2; next < offset + lead.length; next++) {
    const byte = bytes[next];
    if (byte === undefined || byte < 0x80 || byte > 0xbf) return 0;
  }
  return lead.length;
}

/** The offset of the first byte that does not start a well-formed sequence, if any. */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number | undefined {
  if (isUtf8(bytes)) return undefined;

  for (let offset = 0; offset < bytes.length;) {
    const length = sequenceLength(bytes, offset);
    if (length === 0) return offset;
    offset += length;
  }
  return undefined;
}
