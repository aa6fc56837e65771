import type { JwtVerifier } from '../auth/jwt-verifier.js';
import type { Principal } from '../store/store.js';

/** Who a hello's token says the client is, or why it was refused. */
export type HelloAuth =
  /** `endsAt`: when the token stops being accepted (its `exp` plus the clock tolerance): the session ends then. */
  | { ok: true; principal: Principal; claims: Readonly<Record<string, unknown>>; endsAt?: number }
  /** `expired`: the token was good but is past its time: the client fetches a new one and retries. */
  | { ok: false; expired: boolean };

/** How the server checks tokens: a JWT verifier, an `authenticate` hook, both (the token verified first, then the hook), or neither. */
export interface HelloAuthenticator {
  readonly verifier?: JwtVerifier;
  readonly authenticate?: (token: string | undefined, request: unknown) => unknown;
}

/**
 * Checks a hello's token. A verified JWT's payload is the claims rules read; a hook's answer, when
 * it is an object, is the principal and the claims (so a custom scheme can feed the rules); a
 * falsy answer or a throw refuses. With neither, every client is anonymous (no claims).
 */
export async function authenticateHello(auth: HelloAuthenticator, token: string | undefined, request: unknown): Promise<HelloAuth> {
  let claims: Readonly<Record<string, unknown>> = {};
  let principal: Principal;
  let endsAt: number | undefined;
  if (auth.verifier) {
    try {
      const verified = await auth.verifier.verify(token);
      ({ claims, acceptedUntil: endsAt } = verified);
      principal = claims;
    } catch (error) {
      return { ok: false, expired: (error as { code?: unknown }).code === 'token_expired' };
    }
  }
  if (auth.authenticate) {
    let answer: unknown;
    try {
      answer = await auth.authenticate(token, request);
    } catch {
      return { ok: false, expired: false };
    }
    if (!answer) return { ok: false, expired: false };
    principal = answer;
    if (typeof answer === 'object') claims = answer as Record<string, unknown>;
  }
  return { ok: true, principal, claims, ...(endsAt !== undefined && { endsAt }) };
}
