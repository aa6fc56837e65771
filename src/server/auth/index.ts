export { createJwtVerifier, TokenRefusedError, type JwtOptions, type JwtVerifier, type VerifiedToken, type TokenRefusalCode } from './jwt-verifier.js';
export { signToken, type SignTokenOptions } from './sign-token.js';
