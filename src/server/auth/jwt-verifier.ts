/**
 * JWT verification for the sync server, on top of `jose`. One verifier is built from the server's
 * options at start-up (where every misconfiguration throws at once) and then answers
 * {@link JwtVerifier.verify} for each connection: the verified claims, or a {@link TokenRefusedError}
 * with a stable code.
 *
 * Refusal messages come from a fixed table: they never contain the token, the secret or any claim
 * value, because they end up in logs and in answers to clients.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';

/**
 * How the server verifies client tokens. Exactly one key source is given: `secret`, `publicKey` or
 * `jwksUrl`.
 */
export interface JwtOptions {
  /** Shared secret (its UTF-8 bytes are the HMAC key). Allows HS256, or HS384/HS512 when listed in `algorithms`. */
  secret?: string;
  /** A PEM public key (SPKI). The algorithm follows the key: RSA → RS256, EC P-256 → ES256 (P-384 → ES384, P-521 → ES512), Ed25519 → EdDSA. */
  publicKey?: string;
  /** URL of a JSON Web Key Set. Keys are cached, refreshed, and picked by `kid`; default algorithms RS256, ES256, EdDSA. */
  jwksUrl?: string;
  /** When set, the token's `aud` must contain (one of) these. Not checked otherwise. */
  audience?: string | string[];
  /** When set, the token's `iss` must be (one of) these. Not checked otherwise. */
  issuer?: string | string[];
  /** Replaces the default allowed algorithms; each must suit the key source (`none` never does). */
  algorithms?: string[];
  /** Longest lifetime accepted, `exp - iat` (or `exp - now` without `iat`). Default 86400 (one day). */
  maxLifetimeSeconds?: number;
  /** Allowed clock skew when checking `exp` and `nbf`. Default 60. */
  clockToleranceSeconds?: number;
  /**
   * JWKS only: after a fetch, a token with an unknown `kid` triggers no new fetch for this long (jose's
   * `cooldownDuration`, default 30000), so a stream of forged `kid`s cannot hammer the key server.
   * Tests lower it to see a rotation at once.
   */
  jwksCooldownMs?: number;
  /** JWKS only: the keys are fetched again after this long even when every `kid` matches (jose's `cacheMaxAge`, default 600000). */
  jwksCacheMaxAgeMs?: number;
  /** JWKS only: how long one fetch of the key set may take (jose's `timeoutDuration`, default 5000). */
  jwksTimeoutMs?: number;
}

/** A token that passed every check. */
export interface VerifiedToken {
  /** The token's payload as sent (after verification). */
  claims: Record<string, unknown>;
  /** When the token expires: its `exp`, in milliseconds since the epoch. */
  expiresAt: number;
  /**
   * Until when the verifier would still accept it: `expiresAt` plus the clock tolerance. A session
   * ends then, not sooner: ending it at `expiresAt` would let the same token straight back in.
   */
  acceptedUntil: number;
}

/** Stable codes of a refused token; callers may branch on them. */
export type TokenRefusalCode =
  | 'token_missing'
  | 'token_invalid'
  | 'token_expired'
  | 'token_not_yet_valid'
  | 'token_lifetime'
  | 'token_audience'
  | 'token_issuer'
  | 'token_algorithm'
  | 'token_key';

const REFUSAL_MESSAGES: Record<TokenRefusalCode, string> = {
  token_missing: 'no token presented',
  token_invalid: 'token malformed or signature invalid',
  token_expired: 'token expired',
  token_not_yet_valid: 'token not yet valid',
  token_lifetime: 'token has no expiry or lives too long',
  token_audience: 'token audience not accepted',
  token_issuer: 'token issuer not accepted',
  token_algorithm: 'token algorithm not allowed',
  token_key: 'no key matches the token',
};

/** Said instead of the default `token_key` message when the key set itself could not be had: an outage, not a bad token. */
const KEYS_UNAVAILABLE = 'signing keys unavailable';

/**
 * A token was refused. `code` says why; the message is short, stable and free of token data. No
 * `cause` is kept: jose's claim errors carry the whole payload.
 */
export class TokenRefusedError extends Error {
  override readonly name = 'TokenRefusedError';
  readonly code: TokenRefusalCode;

  constructor(code: TokenRefusalCode, message: string = REFUSAL_MESSAGES[code]) {
    super(message);
    this.code = code;
  }
}

/** Verifies the tokens presented by clients. */
export interface JwtVerifier {
  /**
   * Resolves with the token's claims when it passes every check; rejects with a
   * {@link TokenRefusedError} otherwise (never with anything else).
   */
  verify(token: string | undefined): Promise<VerifiedToken>;
}

const HMAC_ALGORITHMS = ['HS256', 'HS384', 'HS512'];
const RSA_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EDDSA_ALGORITHMS = ['EdDSA', 'Ed25519'];
const EC_ALGORITHM_BY_CURVE: Record<string, string> = { prime256v1: 'ES256', secp384r1: 'ES384', secp521r1: 'ES512' };
const JWKS_DEFAULT_ALGORITHMS = ['RS256', 'ES256', 'EdDSA'];
const JWKS_ALLOWED_ALGORITHMS = [...RSA_ALGORITHMS, ...Object.values(EC_ALGORITHM_BY_CURVE), ...EDDSA_ALGORITHMS];
/** jose refuses smaller RSA keys on every token; better to say so at start-up. */
const MIN_RSA_BITS = 2048;
/** Real tokens are far smaller; refusing early keeps a huge header from being decoded at all. */
const MAX_TOKEN_LENGTH = 16 * 1024;

/** A key source made ready for jose: how to get the key, and which algorithms it may be used with. */
interface KeySource {
  getKey: JWTVerifyGetKey;
  algorithms: string[];
}

/**
 * Builds a verifier. Throws an `Error` naming the bad option when not exactly one of `secret`,
 * `publicKey`, `jwksUrl` is given, when the PEM does not parse (or holds a private key), when an
 * algorithm does not suit the key source, or when a number option is out of range.
 *
 * Refusals, by code:
 * - `token_missing`: `undefined` or empty token.
 * - `token_invalid`: not a JWS/JWT, bad signature, malformed claims (e.g. a non-numeric `exp`).
 * - `token_algorithm`: `alg: none` or any algorithm outside the allowed list (also the HS256-with-a-public-key confusion).
 * - `token_key`: no key in the JWKS matches the token (unknown `kid`, or several candidates and no `kid`),
 *   or the JWKS could not be fetched — then the message is `signing keys unavailable`.
 * - `token_expired` / `token_not_yet_valid`: `exp` / `nbf` outside the clock tolerance.
 * - `token_lifetime`: no `exp` at all (a token without expiry has an unbounded lifetime, so it is
 *   refused under this code, not `token_invalid`), or a lifetime above `maxLifetimeSeconds`.
 * - `token_audience` / `token_issuer`: only when `audience` / `issuer` are configured; a missing claim counts as wrong.
 */
export function createJwtVerifier(options: JwtOptions): JwtVerifier {
  const source = keySourceOf(options);
  const maxLifetimeSeconds = positiveNumber(options.maxLifetimeSeconds, 'maxLifetimeSeconds', 86400);
  const clockToleranceSeconds = positiveNumber(options.clockToleranceSeconds, 'clockToleranceSeconds', 60);
  const audience = optionalNames(options.audience, 'audience');
  const issuer = optionalNames(options.issuer, 'issuer');

  return {
    async verify(token) {
      checkShape(token);
      const nowMs = Date.now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, source.getKey, {
          algorithms: source.algorithms,
          audience,
          issuer,
          requiredClaims: ['exp'],
          clockTolerance: clockToleranceSeconds,
          currentDate: new Date(nowMs),
        }));
      } catch (error) {
        throw toRefusal(error);
      }
      const exp = payload.exp as number; // jose checked it is present and a number
      checkLifetime(exp, payload.iat, Math.floor(nowMs / 1000), maxLifetimeSeconds, clockToleranceSeconds);
      return { claims: { ...payload }, expiresAt: exp * 1000, acceptedUntil: (exp + clockToleranceSeconds) * 1000 };
    },
  };
}

/** The UTF-8 bytes of a shared secret: the one encoding both {@link createJwtVerifier} and `signToken` use. */
export function secretKeyBytes(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

function checkShape(token: string | undefined): asserts token is string {
  if (token === undefined || token === '') throw new TokenRefusedError('token_missing');
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new TokenRefusedError('token_invalid');
}

/**
 * `exp - iat`, where an `iat` in the future counts only up to the clock tolerance: a token dated
 * ahead cannot stretch how long it stays usable from now.
 */
function checkLifetime(exp: number, iat: unknown, nowSeconds: number, maxLifetimeSeconds: number, toleranceSeconds: number): void {
  const issuedAt = typeof iat === 'number' ? Math.min(iat, nowSeconds + toleranceSeconds) : nowSeconds;
  if (exp - issuedAt > maxLifetimeSeconds) throw new TokenRefusedError('token_lifetime');
}

function toRefusal(error: unknown): TokenRefusedError {
  if (error instanceof TokenRefusedError) return error;
  if (error instanceof errors.JWTExpired) return new TokenRefusedError('token_expired');
  if (error instanceof errors.JWTClaimValidationFailed) return claimRefusal(error.claim, error.reason);
  if (error instanceof errors.JOSEAlgNotAllowed) return new TokenRefusedError('token_algorithm');
  if (isNoMatchingKey(error)) return new TokenRefusedError('token_key');
  // JWSInvalid, JWTInvalid, JWSSignatureVerificationFailed, and whatever else: the token is not one we can accept.
  return new TokenRefusedError('token_invalid');
}

function claimRefusal(claim: string, reason: string): TokenRefusedError {
  if (claim === 'exp' && reason === 'missing') return new TokenRefusedError('token_lifetime');
  if (claim === 'nbf' && reason === 'check_failed') return new TokenRefusedError('token_not_yet_valid');
  if (claim === 'aud') return new TokenRefusedError('token_audience');
  if (claim === 'iss') return new TokenRefusedError('token_issuer');
  return new TokenRefusedError('token_invalid');
}

/** jose hands back several candidates (for the caller to try) when the token has no `kid`; we ask for a `kid` instead. */
function isNoMatchingKey(error: unknown): boolean {
  return error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys;
}

function keySourceOf(options: JwtOptions): KeySource {
  const given = (['secret', 'publicKey', 'jwksUrl'] as const).filter((name) => options[name] !== undefined);
  if (given.length !== 1) {
    throw new Error(`JWT options: give exactly one of secret, publicKey, jwksUrl (got ${given.length === 0 ? 'none' : given.join(', ')})`);
  }
  if (options.jwksUrl === undefined) rejectJwksTuning(options);
  if (options.secret !== undefined) return secretSource(options.secret, options.algorithms);
  if (options.publicKey !== undefined) return publicKeySource(options.publicKey, options.algorithms);
  return jwksSource(options.jwksUrl as string, options);
}

function secretSource(secret: unknown, algorithms: string[] | undefined): KeySource {
  if (typeof secret !== 'string' || secret === '') throw new Error('JWT options: secret must be a non-empty string');
  const key = secretKeyBytes(secret);
  return { getKey: () => key, algorithms: allowedAlgorithms(algorithms, ['HS256'], HMAC_ALGORITHMS, 'a secret') };
}

function publicKeySource(pem: unknown, algorithms: string[] | undefined): KeySource {
  const key = parsePublicKey(pem);
  const { inferred, compatible } = algorithmsForKey(key);
  return { getKey: () => key, algorithms: allowedAlgorithms(algorithms, [inferred], compatible, `this ${key.asymmetricKeyType} key`) };
}

function parsePublicKey(pem: unknown): KeyObject {
  if (typeof pem !== 'string') throw new Error('JWT options: publicKey must be a PEM string');
  // createPublicKey would quietly derive a public key from a private one: a private key does not belong here.
  if (pem.includes('PRIVATE KEY')) throw new Error('JWT options: publicKey holds a private key; give the public key (SPKI PEM)');
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new Error('JWT options: publicKey is not a valid PEM public key');
  }
}

function algorithmsForKey(key: KeyObject): { inferred: string; compatible: string[] } {
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    if ((key.asymmetricKeyDetails?.modulusLength ?? 0) < MIN_RSA_BITS) throw new Error(`JWT options: RSA publicKey must have at least ${MIN_RSA_BITS} bits`);
    return { inferred: 'RS256', compatible: RSA_ALGORITHMS };
  }
  if (type === 'ec') {
    // ECDSA ties the algorithm to the curve, so there is exactly one choice.
    const algorithm = EC_ALGORITHM_BY_CURVE[key.asymmetricKeyDetails?.namedCurve ?? ''];
    if (algorithm === undefined) throw new Error('JWT options: EC publicKey must be on P-256, P-384 or P-521');
    return { inferred: algorithm, compatible: [algorithm] };
  }
  if (type === 'ed25519') return { inferred: 'EdDSA', compatible: EDDSA_ALGORITHMS };
  throw new Error(`JWT options: publicKey type ${String(type)} is not supported (RSA, EC or Ed25519)`);
}

function jwksSource(url: unknown, options: JwtOptions): KeySource {
  const remote = createRemoteJWKSet(parseJwksUrl(url), {
    cooldownDuration: nonNegativeNumber(options.jwksCooldownMs, 'jwksCooldownMs'),
    cacheMaxAge: nonNegativeNumber(options.jwksCacheMaxAgeMs, 'jwksCacheMaxAgeMs'),
    timeoutDuration: nonNegativeInteger(options.jwksTimeoutMs, 'jwksTimeoutMs'),
  });
  // Errors from the key lookup are about keys, not about the token's shape: a fetch that fails
  // (refused connection, timeout, bad JSON) must read as a refusal, never crash the caller.
  const getKey: JWTVerifyGetKey = async (header, token) => {
    try {
      return await remote(header, token);
    } catch (error) {
      throw new TokenRefusedError('token_key', isNoMatchingKey(error) ? undefined : KEYS_UNAVAILABLE);
    }
  };
  return { getKey, algorithms: allowedAlgorithms(options.algorithms, JWKS_DEFAULT_ALGORITHMS, JWKS_ALLOWED_ALGORITHMS, 'a JWKS') };
}

function parseJwksUrl(url: unknown): URL {
  let parsed: URL | undefined;
  try {
    parsed = new URL(String(url));
  } catch {
    parsed = undefined;
  }
  if (parsed === undefined || (parsed.protocol !== 'https:' && parsed.protocol !== 'http:')) {
    throw new Error('JWT options: jwksUrl must be an http(s) URL');
  }
  return parsed;
}

function rejectJwksTuning(options: JwtOptions): void {
  for (const name of ['jwksCooldownMs', 'jwksCacheMaxAgeMs', 'jwksTimeoutMs'] as const) {
    if (options[name] !== undefined) throw new Error(`JWT options: ${name} applies only with jwksUrl`);
  }
}

/**
 * The configured algorithms, or the defaults. Only algorithms that suit the key are allowed: this is
 * what stops `none`, and an HS256 token "signed" with a public key, from ever reaching a key.
 */
function allowedAlgorithms(configured: unknown, defaults: string[], compatible: string[], keyDescription: string): string[] {
  if (configured === undefined) return [...defaults];
  if (!Array.isArray(configured) || configured.length === 0) throw new Error('JWT options: algorithms must be a non-empty array');
  for (const algorithm of configured) {
    if (!compatible.includes(algorithm)) {
      throw new Error(`JWT options: algorithm ${String(algorithm)} cannot be used with ${keyDescription} (allowed: ${compatible.join(', ')})`);
    }
  }
  return [...new Set(configured as string[])];
}

function positiveNumber(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw new Error(`JWT options: ${name} must be a positive number`);
  return value;
}

function nonNegativeNumber(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`JWT options: ${name} must be a number >= 0`);
  return value;
}

function nonNegativeInteger(value: unknown, name: string): number | undefined {
  if (value !== undefined && !Number.isInteger(value)) throw new Error(`JWT options: ${name} must be a whole number >= 0`);
  return nonNegativeNumber(value, name);
}

function optionalNames(value: unknown, name: string): string | string[] | undefined {
  if (value === undefined) return undefined;
  const names = Array.isArray(value) ? value : [value];
  if (names.length === 0 || names.some((item) => typeof item !== 'string' || item === '')) {
    throw new Error(`JWT options: ${name} must be a non-empty string or array of non-empty strings`);
  }
  return value as string | string[];
}
