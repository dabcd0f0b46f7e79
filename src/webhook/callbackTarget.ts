import { promises as dns, type LookupAddress } from 'node:dns';
import { DELIVERY_REASONS, formatText } from '../messages.ts';
import type { AddressPolicy } from './addressPolicy.ts';

/**
 * Where a delivery connects: the callback_url checked (scheme, length), its host
 * resolved once, and only the answers the address policy lets through kept. The
 * request then connects to one of those answers and to nothing else
 * (postWebhook.ts), so no second resolution can swap in another address between the
 * check and the connect (DNS rebinding).
 */

/** The longest callback_url accepted, in UTF-8 bytes (../shared/DESIGN.md section 3). */
export const MAX_CALLBACK_URL_BYTES = 2048;

/** Resolves a host name to every address it has. */
export type HostLookup = (hostname: string) => Promise<LookupAddress[]>;

/** The resolver of the machine: getaddrinfo, every answer, in the resolver's order. */
export const systemLookup: HostLookup = (hostname) =>
  dns.lookup(hostname, { all: true, verbatim: true });

export interface ConnectTarget {
  url: URL;
  /** The host as the request names it (Host header, TLS SNI): no IPv6 brackets. */
  hostname: string;
  /** The addresses the policy let through; the connection goes to one of these. */
  addresses: LookupAddress[];
}

export type CallbackTarget =
  | { kind: 'refused'; reason: string }
  | { kind: 'unresolved' }
  | ({ kind: 'connect' } & ConnectTarget);

const SCHEMES = new Set(['http:', 'https:']);

function refused(reason: string): CallbackTarget {
  return { kind: 'refused', reason };
}

/** The URL when it may be used, or the reason it may not. */
export function parseCallbackUrl(text: string): URL | { reason: string } {
  if (Buffer.byteLength(text, 'utf8') > MAX_CALLBACK_URL_BYTES) {
    return { reason: DELIVERY_REASONS.urlTooLong };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { reason: DELIVERY_REASONS.urlInvalid };
  }
  if (!SCHEMES.has(url.protocol)) return { reason: DELIVERY_REASONS.schemeRefused };
  return url;
}

function familyNumber(family: 'ipv4' | 'ipv6'): 4 | 6 {
  return family === 'ipv4' ? 4 : 6;
}

/**
 * Checks the URL and resolves its host. An address literal (WHATWG URL has already
 * turned `2130706433`, `0x7f000001`, `0177.0.0.1` and `127.1` into `127.0.0.1`) is
 * judged as it is; a name is resolved and judged answer by answer. A failed resolution
 * is `unresolved` (the attempt is retried); a name with no allowed answer is refused.
 */
export async function resolveCallbackTarget(
  text: string,
  policy: AddressPolicy,
  lookupHost: HostLookup,
): Promise<CallbackTarget> {
  const url = parseCallbackUrl(text);
  if (!(url instanceof URL)) return refused(url.reason);

  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const literal = policy.judge(hostname);
  if (literal.allowed) {
    const address = { address: literal.address, family: familyNumber(literal.family) };
    return { kind: 'connect', url, hostname, addresses: [address] };
  }
  if (literal.label !== 'not an IP address') {
    return refused(formatText(DELIVERY_REASONS.addressRefused, literal.label));
  }

  let answers: LookupAddress[];
  try {
    answers = await lookupHost(hostname);
  } catch {
    return { kind: 'unresolved' };
  }
  const byName = policy.allowsHost(hostname);
  const judged = answers.map((answer) => policy.judge(answer.address, byName));
  const addresses = judged.flatMap((judgement) =>
    judgement.allowed
      ? [{ address: judgement.address, family: familyNumber(judgement.family) }]
      : [],
  );
  if (addresses.length > 0) return { kind: 'connect', url, hostname, addresses };

  const first = judged.find((judgement) => !judgement.allowed);
  const label = first !== undefined && !first.allowed ? first.label : 'no answer';
  return refused(formatText(DELIVERY_REASONS.hostRefused, label));
}
