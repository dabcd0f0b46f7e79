import { computeHash } from '../src/hash.ts';

/**
 * The calls the bench sends: signed as a MOR client signs them, by the demo user
 * `username` (user 2) for itself with the global secret `secret` (../shared/DESIGN.md
 * section 6). Every call has its own speed dial, so every one stores a record.
 */

export const CREATE_PATH = '/billing/api/phonebook_record_create';
export const FORM_TYPE = 'application/x-www-form-urlencoded';

const CALLER = 'username';
const SECRET = 'secret';
const FIELDS = { user_id: '2', number: '37060000000', name: 'Bench desk' };

/** Signs params with the demo scope's secret: hash over the signed values, then the secret. */
export function signCall(params: Record<string, string>): Record<string, string> {
  const bytes = Object.fromEntries(
    Object.entries(params).map(([name, value]) => [name, Buffer.from(value, 'utf8')]),
  );
  return { ...params, hash: computeHash(bytes, SECRET) };
}

/** The form body of the bench's call number `index`: a distinct speed dial each. */
export function callBody(index: number): string {
  const speeddial = String(10_000_000 + index);
  return new URLSearchParams({
    u: CALLER,
    ...signCall({ ...FIELDS, speeddial }),
  }).toString();
}

/**
 * Calls that must be answered alike by the service (sync) and the reference, in this
 * order, byte for byte: a success, its repeat, and a refusal from several rows of the
 * check order. The bench sends them before it measures anything.
 */
export function equivalenceBodies(): string[] {
  const fresh = { ...FIELDS, speeddial: '42' };
  const signed = signCall(fresh);
  const form = (params: Record<string, string>) => new URLSearchParams(params).toString();
  return [
    form({ u: CALLER, ...signed }),
    form({ u: CALLER, ...signed }),
    form({ u: 'nobody', ...signed }),
    form({ u: CALLER, ...signed, hash: '0'.repeat(40) }),
    form({ u: CALLER, ...signCall({ ...fresh, user_id: '3', speeddial: '43' }) }),
    form({ u: CALLER, ...signCall({ ...fresh, name: ' ', speeddial: '44' }) }),
    form({ u: CALLER, ...signCall({ ...fresh, speeddial: '4a' }) }),
    form({ u: 'admin', ...signCall({ ...fresh, user_id: '0', speeddial: '42' }) }),
  ];
}
