import { createHmac } from 'node:crypto';

/**
 * Standard Webhooks signing (standardwebhooks.com, "Signature scheme"): HMAC-SHA256
 * over `id.timestamp.body`, base64, prefixed with the scheme's version `v1,`. The key
 * is the UTF-8 bytes of the caller scope's API secret, the secret the caller already
 * signs its calls with; a Standard Webhooks library takes it as `whsec_` + base64.
 */
export function webhookSignature(
  webhookId: string,
  timestampSeconds: number,
  body: Buffer,
  secret: string,
): string {
  const mac = createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(`${webhookId}.${timestampSeconds}.`)
    .update(body)
    .digest('base64');
  return `v1,${mac}`;
}
