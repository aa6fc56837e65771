import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, exportPKCS8, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { createJwtVerifier, signToken, TokenRefusedError, type JwtVerifier, type TokenRefusalCode } from '../../../src/server/auth/index.js';

// Real keys, real tokens, a real JWKS server: no mocks. Every refusal goes through `expectRefused`,
// which also checks that the message gives nothing away (token, secret, claim values).

const SECRET = 'a-test-secret-of-at-least-32-bytes!';
/** A claim value that must never show up in an error message. */
const MARKER = 'user-marker-7f3a9c';

const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const base64url = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const secretBytes = (secret: string): Uint8Array => new TextEncoder().encode(secret);

/** The payload of a token valid for an hour, with the marker claim; `overrides` set or (as `undefined`) drop claims. */
function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const now = nowSeconds();
  const payload: Record<string, unknown> = { sub: MARKER, role: 'editor', iat: now, exp: now + 3600, ...overrides };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return payload as JWTPayload;
}

function sign(payload: JWTPayload, key: CryptoKey | Uint8Array, alg: string, kid?: string): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(kid === undefined ? { alg } : { alg, kid }).sign(key);
}

const hs256 = (payload: JWTPayload = claims(), secret = SECRET): Promise<string> => sign(payload, secretBytes(secret), 'HS256');

async function expectRefused(verifier: JwtVerifier, token: string | undefined, code: TokenRefusalCode): Promise<TokenRefusedError> {
  const error = await verifier.verify(token).then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(TokenRefusedError);
  const refused = error as TokenRefusedError;
  expect(refused.code).toBe(code);
  expect(refused.name).toBe('TokenRefusedError');
  expect(refused.message.length).toBeGreaterThan(0);
  expect(refused.cause).toBeUndefined();
  // The whole token, and each of its parts long enough to mean anything (a part of 'abc' is just a letter).
  const tokenParts = (token?.split('.') ?? []).filter((part) => part.length >= 8);
  for (const leak of [token, ...tokenParts, SECRET, MARKER]) {
    if (leak) expect(refused.message).not.toContain(leak);
  }
  return refused;
}

describe('createJwtVerifier with a secret (HS256)', () => {
  const verifier = createJwtVerifier({ secret: SECRET });

  it('accepts a good token and returns its claims, expiresAt from exp', async () => {
    const payload = claims();
    const verified = await verifier.verify(await hs256(payload));
    expect(verified.claims).toEqual(payload);
    expect(verified.expiresAt).toBe((payload.exp as number) * 1000);
  });

  it('accepts what signToken signs, with issuer and audience checked', async () => {
    const strict = createJwtVerifier({ secret: SECRET, issuer: 'rxsync-demo', audience: ['sync', 'other'] });
    const before = nowSeconds();
    const verified = await strict.verify(await signToken({ secret: SECRET, claims: { sub: 'alice' }, issuer: 'rxsync-demo', audience: 'sync' }));
    expect(verified.claims).toMatchObject({ sub: 'alice', iss: 'rxsync-demo', aud: 'sync' });
    expect(verified.claims.exp).toBe((verified.claims.iat as number) + 3600);
    expect(verified.claims.iat).toBeGreaterThanOrEqual(before);
  });

  it('refuses a token signed with another secret', async () => {
    await expectRefused(verifier, await hs256(claims(), 'another-secret-of-at-least-32-bytes'), 'token_invalid');
  });

  it('refuses alg none', async () => {
    const unsigned = `${base64url({ alg: 'none', typ: 'JWT' })}.${base64url(claims())}.`;
    await expectRefused(verifier, unsigned, 'token_algorithm');
  });

  it('refuses HS512 unless it is listed in algorithms', async () => {
    const token = await sign(claims(), secretBytes(SECRET), 'HS512');
    await expectRefused(verifier, token, 'token_algorithm');
    await expect(createJwtVerifier({ secret: SECRET, algorithms: ['HS256', 'HS512'] }).verify(token)).resolves.toBeDefined();
  });

  it('refuses a token expired beyond the tolerance, accepts one expired within it', async () => {
    const now = nowSeconds();
    await expectRefused(verifier, await hs256(claims({ iat: now - 600, exp: now - 120 })), 'token_expired');
    await expect(verifier.verify(await hs256(claims({ iat: now - 600, exp: now - 30 })))).resolves.toBeDefined();
    await expectRefused(
      createJwtVerifier({ secret: SECRET, clockToleranceSeconds: 10 }),
      await hs256(claims({ iat: now - 600, exp: now - 30 })),
      'token_expired',
    );
  });

  it('refuses a token not yet valid beyond the tolerance, accepts one within it', async () => {
    const now = nowSeconds();
    await expectRefused(verifier, await hs256(claims({ nbf: now + 120 })), 'token_not_yet_valid');
    await expect(verifier.verify(await hs256(claims({ nbf: now + 30 })))).resolves.toBeDefined();
  });

  it('checks the audience only when configured', async () => {
    const withAudience = createJwtVerifier({ secret: SECRET, audience: 'sync' });
    await expectRefused(withAudience, await hs256(claims({ aud: 'billing' })), 'token_audience');
    await expectRefused(withAudience, await hs256(claims()), 'token_audience');
    await expect(withAudience.verify(await hs256(claims({ aud: ['billing', 'sync'] })))).resolves.toBeDefined();
    await expect(verifier.verify(await hs256(claims({ aud: 'billing' })))).resolves.toBeDefined();
  });

  it('checks the issuer only when configured', async () => {
    const withIssuer = createJwtVerifier({ secret: SECRET, issuer: ['https://idp.example'] });
    await expectRefused(withIssuer, await hs256(claims({ iss: 'https://evil.example' })), 'token_issuer');
    await expectRefused(withIssuer, await hs256(claims()), 'token_issuer');
    await expect(withIssuer.verify(await hs256(claims({ iss: 'https://idp.example' })))).resolves.toBeDefined();
    await expect(verifier.verify(await hs256(claims({ iss: 'https://evil.example' })))).resolves.toBeDefined();
  });

  it('refuses a token without exp (token_lifetime: its lifetime is unbounded)', async () => {
    await expectRefused(verifier, await hs256(claims({ exp: undefined })), 'token_lifetime');
  });

  it('refuses malformed time claims as token_invalid', async () => {
    await expectRefused(verifier, await hs256(claims({ exp: String(nowSeconds() + 60) })), 'token_invalid');
    await expectRefused(verifier, await hs256(claims({ iat: 'yesterday' })), 'token_invalid');
  });

  it('refuses a lifetime over the default maximum of one day', async () => {
    const now = nowSeconds();
    await expectRefused(verifier, await hs256(claims({ iat: now, exp: now + 2 * 86400 })), 'token_lifetime');
    // Without iat the lifetime counts from now.
    await expectRefused(verifier, await hs256(claims({ iat: undefined, exp: now + 2 * 86400 })), 'token_lifetime');
    // A future-dated iat cannot stretch it: it counts only up to the tolerance.
    await expectRefused(verifier, await hs256(claims({ iat: now + 10 * 86400, exp: now + 10 * 86400 + 3600 })), 'token_lifetime');
    await expect(verifier.verify(await hs256(claims({ iat: now, exp: now + 86400 })))).resolves.toBeDefined();
  });

  it('applies a custom maximum lifetime', async () => {
    const short = createJwtVerifier({ secret: SECRET, maxLifetimeSeconds: 600 });
    const now = nowSeconds();
    await expectRefused(short, await hs256(claims({ iat: now, exp: now + 3600 })), 'token_lifetime');
    await expect(short.verify(await hs256(claims({ iat: now, exp: now + 300 })))).resolves.toBeDefined();
  });

  it('refuses something that is not a JWT, and a missing token', async () => {
    await expectRefused(verifier, 'abc', 'token_invalid');
    await expectRefused(verifier, 'a.b.c', 'token_invalid');
    await expectRefused(verifier, `${base64url({ alg: 'HS256' })}.not-json.sig`, 'token_invalid');
    await expectRefused(verifier, 'x'.repeat(20_000), 'token_invalid');
    await expectRefused(verifier, undefined, 'token_missing');
    await expectRefused(verifier, '', 'token_missing');
  });
});

describe('createJwtVerifier with a PEM public key', () => {
  let rsa: CryptoKeyPair;
  let otherRsa: CryptoKeyPair;
  let rsaPem: string;

  beforeAll(async () => {
    [rsa, otherRsa] = await Promise.all([generateKeyPair('RS256'), generateKeyPair('RS256')]);
    rsaPem = await exportSPKI(rsa.publicKey);
  });

  it('RS256: accepts a token from the key, refuses one from another RSA key', async () => {
    const verifier = createJwtVerifier({ publicKey: rsaPem });
    const payload = claims();
    await expect(verifier.verify(await sign(payload, rsa.privateKey, 'RS256'))).resolves.toEqual({
      claims: payload,
      expiresAt: (payload.exp as number) * 1000,
      acceptedUntil: ((payload.exp as number) + 60) * 1000,
    });
    await expectRefused(verifier, await sign(claims(), otherRsa.privateKey, 'RS256'), 'token_invalid');
  });

  it('refuses an HS256 token signed with the public key as secret (algorithm confusion)', async () => {
    const verifier = createJwtVerifier({ publicKey: rsaPem });
    await expectRefused(verifier, await sign(claims(), secretBytes(rsaPem), 'HS256'), 'token_algorithm');
  });

  it('ES256: infers the algorithm from a P-256 key', async () => {
    const [ec, otherEc] = await Promise.all([generateKeyPair('ES256', { extractable: true }), generateKeyPair('ES256')]);
    const verifier = createJwtVerifier({ publicKey: await exportSPKI(ec.publicKey) });
    await expect(verifier.verify(await sign(claims(), ec.privateKey, 'ES256'))).resolves.toBeDefined();
    await expectRefused(verifier, await sign(claims(), otherEc.privateKey, 'ES256'), 'token_invalid');
    await expectRefused(verifier, await sign(claims(), rsa.privateKey, 'RS256'), 'token_algorithm');
  });

  it('EdDSA: infers the algorithm from an Ed25519 key', async () => {
    const ed = await generateKeyPair('EdDSA', { extractable: true });
    const verifier = createJwtVerifier({ publicKey: await exportSPKI(ed.publicKey) });
    await expect(verifier.verify(await sign(claims(), ed.privateKey, 'EdDSA'))).resolves.toBeDefined();
  });

  it('throws at creation on a PEM that does not parse, a private key, or an algorithm the key cannot do', async () => {
    expect(() => createJwtVerifier({ publicKey: 'not a pem' })).toThrow(/publicKey is not a valid PEM/);
    expect(() => createJwtVerifier({ publicKey: `${rsaPem.slice(0, 120)}\n-----END PUBLIC KEY-----\n` })).toThrow(/publicKey is not a valid PEM/);
    const privatePem = await exportPKCS8((await generateKeyPair('ES256', { extractable: true })).privateKey);
    expect(() => createJwtVerifier({ publicKey: privatePem })).toThrow(/private key/);
    expect(() => createJwtVerifier({ publicKey: rsaPem, algorithms: ['HS256'] })).toThrow(/algorithm HS256 cannot be used/);
    expect(() => createJwtVerifier({ publicKey: rsaPem, algorithms: ['none'] })).toThrow(/algorithm none cannot be used/);
  });
});

describe('createJwtVerifier with a JWKS URL', () => {
  let jwksServer: { url: string; serve(keys: JWK[]): void; requests(): number; close(): Promise<void> };
  let first: CryptoKeyPair;
  let second: CryptoKeyPair;
  let firstJwk: JWK;
  let secondJwk: JWK;

  beforeAll(async () => {
    [first, second] = await Promise.all([generateKeyPair('ES256', { extractable: true }), generateKeyPair('EdDSA', { extractable: true })]);
    firstJwk = { ...(await exportJWK(first.publicKey)), kid: 'key-1', alg: 'ES256', use: 'sig' };
    secondJwk = { ...(await exportJWK(second.publicKey)), kid: 'key-2', alg: 'EdDSA', use: 'sig' };
    jwksServer = await startJwksServer();
  });
  afterAll(() => jwksServer.close());

  it('accepts a matching kid, refuses an unknown kid, and follows a key rotation', async () => {
    jwksServer.serve([firstJwk]);
    const verifier = createJwtVerifier({ jwksUrl: jwksServer.url, jwksCooldownMs: 0 });
    await expect(verifier.verify(await sign(claims(), first.privateKey, 'ES256', 'key-1'))).resolves.toBeDefined();

    const rotated = await sign(claims(), second.privateKey, 'EdDSA', 'key-2');
    const unknown = await expectRefused(verifier, rotated, 'token_key');
    expect(unknown.message).toBe('no key matches the token');

    jwksServer.serve([firstJwk, secondJwk]);
    await expect(verifier.verify(rotated)).resolves.toBeDefined();
    await expect(verifier.verify(await sign(claims(), first.privateKey, 'ES256', 'key-1'))).resolves.toBeDefined();
  });

  it('does not refetch for unknown kids during the cooldown', async () => {
    jwksServer.serve([firstJwk]);
    const verifier = createJwtVerifier({ jwksUrl: jwksServer.url });
    const before = jwksServer.requests();
    await expect(verifier.verify(await sign(claims(), first.privateKey, 'ES256', 'key-1'))).resolves.toBeDefined();
    for (const kid of ['forged-1', 'forged-2', 'forged-3']) await expectRefused(verifier, await sign(claims(), first.privateKey, 'ES256', kid), 'token_key');
    expect(jwksServer.requests() - before).toBe(1);
  });

  it('refuses an algorithm outside the JWKS defaults, and a token signed by a key not in the set', async () => {
    jwksServer.serve([firstJwk]);
    const verifier = createJwtVerifier({ jwksUrl: jwksServer.url, jwksCooldownMs: 0 });
    await expectRefused(verifier, await hs256(), 'token_algorithm');
    await expectRefused(verifier, await sign(claims(), second.privateKey, 'EdDSA', 'key-1'), 'token_key');
  });

  it('refuses, without crashing, when the JWKS URL is unreachable', async () => {
    const verifier = createJwtVerifier({ jwksUrl: `http://127.0.0.1:${await closedPort()}/jwks.json`, jwksTimeoutMs: 1000 });
    const refused = await expectRefused(verifier, await sign(claims(), first.privateKey, 'ES256', 'key-1'), 'token_key');
    expect(refused.message).toBe('signing keys unavailable');
  });

  it('throws at creation on a bad URL or an HMAC algorithm', () => {
    expect(() => createJwtVerifier({ jwksUrl: 'not a url' })).toThrow(/jwksUrl/);
    expect(() => createJwtVerifier({ jwksUrl: 'ftp://keys.example/jwks' })).toThrow(/jwksUrl/);
    expect(() => createJwtVerifier({ jwksUrl: 'https://keys.example/jwks', algorithms: ['HS256'] })).toThrow(/HS256/);
  });
});

describe('createJwtVerifier options', () => {
  it('needs exactly one key source', () => {
    expect(() => createJwtVerifier({})).toThrow(/exactly one of secret, publicKey, jwksUrl \(got none\)/);
    expect(() => createJwtVerifier({ secret: SECRET, jwksUrl: 'https://keys.example/jwks' })).toThrow(/got secret, jwksUrl/);
    expect(() => createJwtVerifier({ secret: '' })).toThrow(/secret must be a non-empty string/);
  });

  it('needs positive numbers for the lifetime and the tolerance', () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '60' as unknown as number]) {
      expect(() => createJwtVerifier({ secret: SECRET, maxLifetimeSeconds: bad })).toThrow(/maxLifetimeSeconds must be a positive number/);
      expect(() => createJwtVerifier({ secret: SECRET, clockToleranceSeconds: bad })).toThrow(/clockToleranceSeconds must be a positive number/);
    }
  });

  it('refuses JWKS tuning without a JWKS, and never echoes the secret', () => {
    expect(() => createJwtVerifier({ secret: SECRET, jwksCooldownMs: 0 })).toThrow(/jwksCooldownMs applies only with jwksUrl/);
    try {
      createJwtVerifier({ secret: SECRET, algorithms: ['none'] });
      throw new Error('expected a throw');
    } catch (error) {
      expect((error as Error).message).toMatch(/algorithm none cannot be used with a secret/);
      expect((error as Error).message).not.toContain(SECRET);
    }
  });
});

/** A JWKS endpoint on 127.0.0.1 whose key set a test can swap, counting the fetches. */
async function startJwksServer(): Promise<{ url: string; serve(keys: JWK[]): void; requests(): number; close(): Promise<void> }> {
  let keys: JWK[] = [];
  let requests = 0;
  const server = createServer((_request, response) => {
    requests += 1;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end(JSON.stringify({ keys }));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    serve: (next) => {
      keys = next;
    },
    requests: () => requests,
    close: () => {
      server.closeAllConnections(); // fetch keeps connections alive
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on: one the system just handed out and that was closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
