import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { describe, it } from 'node:test';
import { AddressPolicy } from '../src/webhook/addressPolicy.ts';
import {
  resolveCallbackTarget,
  type CallbackTarget,
  type HostLookup,
} from '../src/webhook/callbackTarget.ts';
import { connectLookup } from '../src/webhook/postWebhook.ts';

/**
 * The outbound address policy (../shared/DESIGN.md section 3; issue 4). Pure: nothing
 * here resolves a real name or opens a socket, so every refusal is shown without a
 * connection attempt.
 */

const defaults = new AddressPolicy();

/** A resolver that fails the test if it is asked at all. */
const noDns: HostLookup = async (hostname) => {
  throw new Error(`DNS asked for ${hostname}`);
};

function answering(...addresses: string[]): HostLookup {
  return async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
}

function refusal(target: CallbackTarget): string | undefined {
  return target.kind === 'refused' ? target.reason : undefined;
}

describe('refused ranges', () => {
  const cases: Array<[string, string]> = [
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'this network'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.1.1', 'link-local'],
    ['169.254.169.254', 'metadata'],
    ['169.254.170.2', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['192.0.0.192', 'metadata'],
    ['168.63.129.16', 'metadata'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.255', 'CGNAT'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'documentation'],
    ['198.51.100.1', 'documentation'],
    ['203.0.113.1', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['198.19.255.255', 'benchmarking'],
    ['192.88.99.1', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'broadcast'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fd00:ec2::254', 'metadata'],
    ['fd20:ce::254', 'metadata'],
    ['fec0::1', 'reserved'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['3fff::1', 'documentation'],
    ['2001:2::1', 'benchmarking'],
    ['2001::1', 'reserved'],
    ['2002:7f00:1::1', 'reserved'],
    ['100::1', 'reserved'],
    ['64:ff9b:1::a00:1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::127.0.0.1', 'IPv4-compatible'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'metadata'],
    ['64:ff9b::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'metadata'],
    ['64:ff9b::192.168.0.1', 'private'],
  ];

  for (const [address, label] of cases) {
    it(`refuses ${address} as ${label}`, () => {
      const judgement = defaults.judge(address);
      assert.equal(judgement.allowed, false);
      assert.equal(!judgement.allowed && judgement.label, label);
    });
  }

  it('lets public unicast addresses through, in v4, v6, mapped and NAT64 form', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '100.128.0.1',
      '172.32.0.1',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::8.8.8.8',
    ]) {
      assert.equal(defaults.judge(address).allowed, true, address);
    }
  });

  it('refuses a resolver answer that is not an IP address', () => {
    for (const answer of ['0177.0.0.1', '127.1', 'localhost', '']) {
      const judgement = defaults.judge(answer);
      assert.equal(!judgement.allowed && judgement.label, 'not an IP address', answer);
    }
  });
});

describe('URL spellings of a refused address', () => {
  const spellings: Array<[string, string]> = [
    ['http://127.0.0.1/', 'loopback'],
    ['http://2130706433/', 'loopback'],
    ['http://0x7f000001/', 'loopback'],
    ['http://0177.0.0.1/', 'loopback'],
    ['http://0x7f.1/', 'loopback'],
    ['http://127.1/', 'loopback'],
    ['http://127.0.0.1./', 'loopback'],
    ['http://%31%32%37.0.0.1/', 'loopback'],
    ['https://0/', 'unspecified'],
    ['http://[::1]:8080/', 'loopback'],
    ['http://[0:0:0:0:0:0:0:1]/', 'loopback'],
    ['http://[::]/', 'unspecified'],
    ['http://[::ffff:127.0.0.1]/', 'loopback'],
    ['http://[::ffff:7f00:1]/', 'loopback'],
    ['http://[64:ff9b::7f00:1]/', 'loopback'],
    ['http://[::127.0.0.1]/', 'IPv4-compatible'],
    ['http://169.254.169.254/latest/meta-data/', 'metadata'],
    ['http://2852039166/', 'metadata'],
    ['http://[::ffff:a9fe:a9fe]/', 'metadata'],
    ['http://[fd00:ec2::254]/', 'metadata'],
    ['http://0xa.0.0.1/', 'private'],
    ['http://[fe80::1]/', 'link-local'],
  ];

  for (const [url, label] of spellings) {
    it(`refuses ${url} without asking DNS`, async () => {
      const target = await resolveCallbackTarget(url, defaults, noDns);
      assert.equal(refusal(target), `callback_url address is not allowed (${label})`);
    });
  }

  it('refuses an IPv6 zone id as no valid URL', async () => {
    for (const url of ['http://[fe80::1%25eth0]/', 'http://[fe80::1%eth0]/']) {
      const target = await resolveCallbackTarget(url, defaults, noDns);
      assert.equal(refusal(target), 'callback_url is not a valid URL');
    }
  });
});

describe('URL checks before any address', () => {
  it('refuses schemes other than http and https', async () => {
    for (const url of [
      'ftp://8.8.8.8/',
      'file:///etc/passwd',
      'gopher://8.8.8.8/',
      'ws://8.8.8.8/',
    ]) {
      const target = await resolveCallbackTarget(url, defaults, noDns);
      assert.equal(refusal(target), 'callback_url must use http or https', url);
    }
  });

  it('takes a URL of 2048 bytes and refuses one of 2049', async () => {
    const base = 'https://8.8.8.8/';
    const fits = base + 'a'.repeat(2048 - base.length);
    const over = base + 'é'.repeat(1) + 'a'.repeat(2048 - base.length - 1);

    assert.equal((await resolveCallbackTarget(fits, defaults, noDns)).kind, 'connect');
    assert.equal(
      refusal(await resolveCallbackTarget(over, defaults, noDns)),
      'callback_url is longer than 2048 bytes',
    );
  });

  it('refuses text that is no URL', async () => {
    for (const text of ['', 'not a url', 'http://', 'http://a b/']) {
      const target = await resolveCallbackTarget(text, defaults, noDns);
      assert.equal(refusal(target), 'callback_url is not a valid URL', text);
    }
  });
});

describe('names, judged on what they resolve to', () => {
  it('keeps only the answers that pass and connects to nothing else', async () => {
    const lookup = answering(
      '10.0.0.5',
      '8.8.8.8',
      '127.0.0.1',
      '2606:4700::1111',
      'fe80::1',
    );
    const target = await resolveCallbackTarget('https://hooks.test/x', defaults, lookup);

    assert.equal(target.kind, 'connect');
    assert.deepEqual(target.kind === 'connect' && target.addresses, [
      { address: '8.8.8.8', family: 4 },
      { address: '2606:4700::1111', family: 6 },
    ]);
    assert.equal(target.kind === 'connect' && target.hostname, 'hooks.test');
  });

  it('refuses a name whose every answer is refused, naming the first range only', async () => {
    const lookup = answering('10.0.0.5', '127.0.0.1');
    const target = await resolveCallbackTarget('http://intranet.test/', defaults, lookup);
    assert.equal(
      refusal(target),
      'callback_url host resolves to no allowed address (private)',
    );
  });

  it('refuses localhost by what it resolves to', async () => {
    const lookup = answering('127.0.0.1', '::1');
    const target = await resolveCallbackTarget(
      'http://localhost:3000/',
      defaults,
      lookup,
    );
    assert.equal(
      refusal(target),
      'callback_url host resolves to no allowed address (loopback)',
    );
  });

  it('reports a failed resolution as unresolved, to be retried', async () => {
    const target = await resolveCallbackTarget('http://gone.test/', defaults, noDns);
    assert.deepEqual(target, { kind: 'unresolved' });
  });

  it('hands the socket only the judged addresses, whatever it asks for', () => {
    const addresses: LookupAddress[] = [
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ];
    const lookup = connectLookup(addresses);
    const all: unknown[] = [];
    const one: unknown[] = [];
    lookup('hooks.test', { all: true }, (...args: unknown[]) => all.push(args));
    lookup('hooks.test', {}, (...args: unknown[]) => one.push(args));

    assert.deepEqual(all, [[null, addresses]]);
    assert.deepEqual(one, [[null, '127.0.0.1', 4]]);
  });
});

describe('WEBHOOK_ALLOWLIST', () => {
  it('opens an exact address, in its mapped form too, and nothing next to it', () => {
    const policy = new AddressPolicy(['127.0.0.1']);
    assert.equal(policy.judge('127.0.0.1').allowed, true);
    assert.equal(policy.judge('::ffff:127.0.0.1').allowed, true);
    assert.equal(policy.judge('127.0.0.2').allowed, false);
    assert.equal(policy.judge('::1').allowed, false);
  });

  it('opens a CIDR range of either family', () => {
    const policy = new AddressPolicy(['10.0.0.0/8', 'fd00::/8']);
    assert.equal(policy.judge('10.200.0.1').allowed, true);
    assert.equal(policy.judge('fd12::1').allowed, true);
    assert.equal(policy.judge('172.16.0.1').allowed, false);
    assert.equal(policy.judge('fc00::1').allowed, false);
  });

  it('opens every answer of a named host, matching case and trailing dot as DNS does', async () => {
    const policy = new AddressPolicy(['Hooks.Internal.test']);
    const lookup = answering('10.0.0.5', '169.254.169.254');
    const named = await resolveCallbackTarget(
      'http://hooks.internal.test./',
      policy,
      lookup,
    );
    const other = await resolveCallbackTarget(
      'http://other.internal.test/',
      policy,
      lookup,
    );

    assert.equal(named.kind === 'connect' && named.addresses.length, 2);
    assert.equal(other.kind, 'refused');
  });
});
