/**
 * GitHub's push webhook: `POST` with `X-Hub-Signature-256: sha256=<hex HMAC of
 * the body with the shared secret>`. A missing or wrong signature gets 401 and
 * nothing else happens; a good one triggers a fetch.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

const MAX_BODY = 25 << 20; // GitHub caps payloads at 25 MB

export function signBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Constant-time check of a X-Hub-Signature-256 header value against the body. */
export function verifySignature(secret: string, body: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export interface WebhookEvent {
  event: string;
  /** The ref pushed (push events), e.g. refs/heads/main or refs/coxswain/previews/pr-7. */
  ref?: string;
  after?: string;
}

/** An HTTP handler for the push webhook; `onPush` runs only for a correctly signed request. */
export function webhookHandler(secret: string, onPush: (event: WebhookEvent) => void) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY && !aborted) {
        aborted = true;
        res.writeHead(413).end();
        req.destroy();
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (aborted) return;
      const body = Buffer.concat(chunks);
      if (!verifySignature(secret, body, req.headers['x-hub-signature-256'])) {
        res.writeHead(401, { 'content-type': 'text/plain' }).end('bad or missing X-Hub-Signature-256\n');
        return;
      }
      const event = String(req.headers['x-github-event'] ?? 'push');
      let payload: { ref?: string; after?: string } = {};
      try {
        payload = JSON.parse(body.toString('utf8') || '{}');
      } catch {
        // A signed body that is not JSON still means "something was pushed".
      }
      res.writeHead(202, { 'content-type': 'text/plain' }).end('fetching\n');
      if (event !== 'ping') onPush({ event, ref: payload.ref, after: payload.after });
    });
  };
}
