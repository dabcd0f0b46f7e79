import { createHash, timingSafeEqual } from 'node:crypto';

/** A user-id and password of HTTP basic auth (RFC 7617). */
export interface Credentials {
  username: string;
  password: string;
}

const BASIC = /^Basic +([A-Za-z0-9+/]+={0,2}) *$/i;

/**
 * SHA-256 first, so the two sides compared are always 32 bytes: `timingSafeEqual`
 * needs equal lengths, and comparing digests tells nothing of the secret's length.
 */
function sameText(given: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * True when an `Authorization` header carries exactly these credentials. The user-id
 * ends at the first colon (RFC 7617 section 2), the rest is the password; both are
 * compared in constant time, and both always, so the time does not tell which differed.
 */
export function credentialsMatch(header: string | undefined, expected: Credentials) {
  const encoded = BASIC.exec(header ?? '')?.[1];
  if (encoded === undefined) return false;

  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;

  const usernameOk = sameText(decoded.slice(0, colon), expected.username);
  const passwordOk = sameText(decoded.slice(colon + 1), expected.password);
  return usernameOk && passwordOk;
}
