import { SignJWT } from 'jose';
import { secretKeyBytes } from './jwt-verifier.js';

/** What {@link signToken} puts in a token. */
export interface SignTokenOptions {
  /** Shared secret; the verifier must be given the same string as its `secret`. */
  secret: string;
  /** Payload claims. `iat` and `exp` are always set by `signToken` and override any given here. */
  claims: Record<string, unknown>;
  /** Seconds from now until `exp`. Default 3600. A negative value gives an already expired token (for tests). */
  expiresInSeconds?: number;
  /** Sets `iss`. */
  issuer?: string;
  /** Sets `aud`. */
  audience?: string;
}

/**
 * Signs an HS256 JWT with `iat` = now and `exp` = now + `expiresInSeconds`, for the demo and tests.
 * A real deployment gets its tokens from its identity provider.
 *
 * @example
 * const token = await signToken({ secret: 'dev-secret', claims: { sub: 'alice' } });
 */
export async function signToken(options: SignTokenOptions): Promise<string> {
  const { secret, claims, expiresInSeconds = 3600, issuer, audience } = options;
  if (typeof secret !== 'string' || secret === '') throw new Error('signToken: secret must be a non-empty string');
  if (typeof expiresInSeconds !== 'number' || !Number.isFinite(expiresInSeconds)) throw new Error('signToken: expiresInSeconds must be a finite number');
  const nowSeconds = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + expiresInSeconds);
  if (issuer !== undefined) jwt.setIssuer(issuer);
  if (audience !== undefined) jwt.setAudience(audience);
  return jwt.sign(secretKeyBytes(secret));
}
