import { NOT_TEXT } from './jsonDecode.ts';

/**
 * `multipart/form-data` decoding (RFC 7578) of a whole, size-bounded body to exact
 * bytes. A part's own charset is not applied: its bytes are kept as sent, so invalid
 * UTF-8 is detected the same way as in any other body. A part with a filename is a
 * file, not a text value.
 */

export interface MultipartPair {
  key: string;
  value: Buffer | typeof NOT_TEXT;
}

export class MultipartError extends Error {
  constructor(reason: string) {
    super(`malformed multipart body: ${reason}`);
    this.name = 'MultipartError';
  }
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

/** The `boundary` parameter of a multipart content type (RFC 2046 section 5.1.1). */
export function multipartBoundary(contentType: string): string {
  const match = /;\s*boundary=(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  if (boundary === undefined) throw new MultipartError('no boundary');
  return boundary;
}

/** Reads `name` and `filename` from a Content-Disposition header value. */
function disposition(header: string): { name?: string; isFile: boolean } {
  if (!/^form-data\s*(;|$)/i.test(header)) throw new MultipartError('not form-data');

  const params = new Map<string, string>();
  const param = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/g;
  for (const match of header.matchAll(param)) {
    const value = match[2]?.replace(/\\(.)/g, '$1') ?? match[3] ?? '';
    params.set((match[1] as string).toLowerCase(), value);
  }

  return {
    name: params.get('name'),
    isFile: params.has('filename') || params.has('filename*'),
  };
}

function partHeaders(raw: Buffer): Map<string, string> {
  const headers = new Map<string, string>();
  for (const line of raw.toString('utf8').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartError('bad part header');
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return headers;
}

export function decodeMultipart(
  body: Buffer,
  contentType: string,
  maxParts: number,
): { pairs: MultipartPair[]; tooMany: boolean } {
  const delimiter = Buffer.from(`--${multipartBoundary(contentType)}`);
  const pairs: MultipartPair[] = [];

  let start = body.indexOf(delimiter);
  if (start === -1) throw new MultipartError('no delimiter');

  for (;;) {
    start += delimiter.length;
    if (body.subarray(start, start + 2).toString('latin1') === '--') break;
    if (!body.subarray(start, start + 2).equals(CRLF))
      throw new MultipartError('bad delimiter');

    const headerEnd = body.indexOf(HEADER_END, start + 2);
    if (headerEnd === -1) throw new MultipartError('truncated headers');
    const next = body.indexOf(Buffer.concat([CRLF, delimiter]), headerEnd + 4);
    if (next === -1) throw new MultipartError('truncated part');
    if (pairs.length === maxParts) return { pairs, tooMany: true };

    const headers = partHeaders(body.subarray(start + 2, headerEnd));
    const { name, isFile } = disposition(headers.get('content-disposition') ?? '');
    if (name === undefined) throw new MultipartError('part without a name');

    const value = body.subarray(headerEnd + 4, next);
    pairs.push({ key: name, value: isFile ? NOT_TEXT : Buffer.from(value) });
    start = next + CRLF.length;
  }

  return { pairs, tooMany: false };
}
