import { BlockList, isIP } from 'node:net';

/**
 * Which addresses a delivery may connect to (../shared/DESIGN.md section 3, Webhook).
 * A callback_url is written by the caller, so without this policy any caller could
 * make the service POST into its own network: loopback services, cloud metadata,
 * private hosts. The policy judges addresses, never names: a name is judged by what
 * it resolves to (see callbackTarget.ts), and the address judged is the one connected to.
 */

export type Family = 'ipv4' | 'ipv6';

export type RangeLabel =
  | 'unspecified'
  | 'this network'
  | 'loopback'
  | 'metadata'
  | 'link-local'
  | 'private'
  | 'CGNAT'
  | 'documentation'
  | 'benchmarking'
  | 'multicast'
  | 'broadcast'
  | 'IPv4-compatible'
  | 'reserved';

export type AddressJudgement =
  | { allowed: true; address: string; family: Family }
  | { allowed: false; address: string; label: RangeLabel | 'not an IP address' };

/**
 * Refused by default, first match names the range. Sources: the IANA IPv4 and IPv6
 * Special-Purpose Address Registries (RFC 6890 and the RFCs each entry names), and the
 * cloud providers' documented metadata endpoints. Specific entries come before the
 * ranges that contain them, so 169.254.169.254 is named metadata, not link-local.
 */
const REFUSED_RANGES: ReadonlyArray<readonly [RangeLabel, string]> = [
  ['unspecified', '0.0.0.0/32'], // RFC 1122 3.2.1.3
  ['this network', '0.0.0.0/8'], // RFC 791; Linux connects 0.x to the local host
  ['loopback', '127.0.0.0/8'], // RFC 1122
  ['metadata', '169.254.169.254/32'], // AWS, GCP, Azure, OpenStack instance metadata
  ['metadata', '169.254.170.2/32'], // AWS ECS task credentials
  ['metadata', '100.100.100.200/32'], // Alibaba Cloud instance metadata
  ['metadata', '192.0.0.192/32'], // Oracle Cloud instance metadata
  ['metadata', '168.63.129.16/32'], // Azure WireServer: public-looking, host-only
  ['link-local', '169.254.0.0/16'], // RFC 3927
  ['private', '10.0.0.0/8'], // RFC 1918
  ['private', '172.16.0.0/12'], // RFC 1918
  ['private', '192.168.0.0/16'], // RFC 1918
  ['CGNAT', '100.64.0.0/10'], // RFC 6598 shared address space
  ['reserved', '192.0.0.0/24'], // RFC 6890 IETF protocol assignments
  ['documentation', '192.0.2.0/24'], // RFC 5737 TEST-NET-1
  ['documentation', '198.51.100.0/24'], // RFC 5737 TEST-NET-2
  ['documentation', '203.0.113.0/24'], // RFC 5737 TEST-NET-3
  ['benchmarking', '198.18.0.0/15'], // RFC 2544
  ['reserved', '192.88.99.0/24'], // RFC 7526 deprecated 6to4 relay anycast
  ['multicast', '224.0.0.0/4'], // RFC 5771
  ['broadcast', '255.255.255.255/32'], // RFC 919 limited broadcast
  ['reserved', '240.0.0.0/4'], // RFC 1112 class E
  ['unspecified', '::/128'], // RFC 4291 2.5.2
  ['loopback', '::1/128'], // RFC 4291 2.5.3
  ['IPv4-compatible', '::/96'], // RFC 4291 2.5.5.1, deprecated: refused outright
  ['metadata', 'fd00:ec2::254/128'], // AWS instance metadata over IPv6
  ['metadata', 'fd20:ce::254/128'], // GCP instance metadata over IPv6
  ['private', 'fc00::/7'], // RFC 4193 unique local
  ['link-local', 'fe80::/10'], // RFC 4291 2.5.6
  ['reserved', 'fec0::/10'], // RFC 3879 deprecated site-local
  ['multicast', 'ff00::/8'], // RFC 4291 2.7
  ['reserved', '64:ff9b:1::/48'], // RFC 8215 local-use NAT64, embeds private v4
  ['reserved', '100::/64'], // RFC 6666 discard-only
  ['benchmarking', '2001:2::/48'], // RFC 5180
  ['documentation', '2001:db8::/32'], // RFC 3849
  ['reserved', '2001::/23'], // RFC 2928 IETF protocol assignments, Teredo included
  ['reserved', '2002::/16'], // RFC 7526 deprecated 6to4, embeds any v4
  ['documentation', '3fff::/20'], // RFC 9637
  ['reserved', '5f00::/16'], // RFC 9602 SRv6 SIDs
  // Only 2000::/3 is global unicast (RFC 4291 2.4); the rest of the space is not.
  ['reserved', '::/3'],
  ['reserved', '4000::/2'],
  ['reserved', '8000::/1'],
];

interface RangeRule {
  label: RangeLabel;
  family: Family;
  list: BlockList;
}

function familyOf(address: string): Family | undefined {
  const version = isIP(address);
  if (version === 0) return undefined;
  return version === 4 ? 'ipv4' : 'ipv6';
}

function cidrParts(cidr: string): { network: string; prefix: number; family: Family } {
  const [network = '', prefixText] = cidr.split('/');
  const family = familyOf(network);
  const max = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (family === undefined || !/^\d{1,3}$/.test(prefixText ?? `${max}`) || prefix > max) {
    throw new Error(`not an address or CIDR range: ${cidr}`);
  }
  return { network, prefix, family };
}

/** One BlockList per family: node's BlockList matches v4 rules against mapped v6 and back. */
function addRange(lists: Record<Family, BlockList>, cidr: string): void {
  const { network, prefix, family } = cidrParts(cidr);
  lists[family].addSubnet(network, prefix, family);
}

const RULES: RangeRule[] = REFUSED_RANGES.map(([label, cidr]) => {
  const { network, prefix, family } = cidrParts(cidr);
  const list = new BlockList();
  list.addSubnet(network, prefix, family);
  return { label, family, list };
});

/** The eight 16-bit groups of an IPv6 address in WHATWG URL's canonical form. */
function ipv6Groups(canonical: string): number[] {
  const [head = '', tail] = canonical.split('::');
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = Array<string>(8 - left.length - right.length).fill('0');
  return [...left, ...zeros, ...right].map((group) => parseInt(group, 16));
}

/**
 * The IPv4 address an IPv6 address stands for, when connecting to it reaches that v4
 * address: IPv4-mapped `::ffff:a.b.c.d` (RFC 4291 2.5.5.2, a dual-stack socket connects
 * over v4) and NAT64 `64:ff9b::a.b.c.d` (RFC 6052, a translator forwards to it).
 */
function embeddedIpv4(groups: number[]): string | undefined {
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  const mapped =
    g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff;
  const nat64 =
    g0 === 0x64 && g1 === 0xff9b && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0;
  if (!mapped && !nat64) return undefined;
  return [g6 >> 8, g6 & 0xff, g7 >> 8, g7 & 0xff].join('.');
}

/** Canonical text of an IP address without a zone id, or undefined when it is none. */
export function canonicalAddress(
  text: string,
): { address: string; family: Family } | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const family = familyOf(bare);
  if (family !== 'ipv6') return family && { address: bare, family };

  const hostname = new URL(`http://[${bare}]/`).hostname;
  return { address: hostname.slice(1, -1), family };
}

function refusedRange(address: string, family: Family): RangeLabel | undefined {
  return RULES.find((rule) => rule.family === family && rule.list.check(address, family))
    ?.label;
}

/** Lower case without the root's trailing dot, as DNS compares names. */
export function normaliseHostName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/**
 * The default refusals plus `WEBHOOK_ALLOWLIST`: exact host names, addresses and CIDR
 * ranges that are let through even when a refused range holds them.
 */
export class AddressPolicy {
  private readonly names = new Set<string>();
  private readonly allowed: Record<Family, BlockList> = {
    ipv4: new BlockList(),
    ipv6: new BlockList(),
  };

  constructor(allowlist: readonly string[] = []) {
    for (const entry of allowlist) {
      const address = canonicalAddress(entry);
      if (address !== undefined) addRange(this.allowed, address.address);
      else if (entry.includes('/')) addRange(this.allowed, entry);
      else this.names.add(normaliseHostName(entry));
    }
  }

  /** True when the allowlist names this host: every address it resolves to is let through. */
  allowsHost(hostname: string): boolean {
    return this.names.has(normaliseHostName(hostname));
  }

  /**
   * Judges one address. `hostAllowed` says the allowlist named the host it came from;
   * it must still be an IP address, so the connection goes where it was judged to go.
   */
  judge(text: string, hostAllowed = false): AddressJudgement {
    const canonical = canonicalAddress(text);
    if (canonical === undefined) {
      return { allowed: false, address: text, label: 'not an IP address' };
    }
    const { address, family } = canonical;
    if (hostAllowed || this.allowed[family].check(address, family)) {
      return { allowed: true, ...canonical };
    }

    const embedded = family === 'ipv6' ? embeddedIpv4(ipv6Groups(address)) : undefined;
    if (embedded !== undefined) {
      const inner = this.judge(embedded);
      return inner.allowed ? { allowed: true, ...canonical } : { ...inner, address };
    }

    const label = refusedRange(address, family);
    return label === undefined
      ? { allowed: true, address, family }
      : { allowed: false, address, label };
  }
}

/** Checks an allowlist entry; returns a problem, or undefined when it is usable. */
export function allowlistEntryProblem(entry: string): string | undefined {
  if (canonicalAddress(entry) !== undefined) return undefined;
  if (entry.includes('/')) {
    try {
      cidrParts(entry);
      return undefined;
    } catch {
      return `"${entry}" is not a CIDR range`;
    }
  }
  return /^[a-z0-9_.-]+$/i.test(entry) && !entry.startsWith('.')
    ? undefined
    : `"${entry}" is not a host name, address or CIDR range`;
}
