// A real OpenID provider for the tests of `tsk serve`: oidc-provider (the certified reference
// implementation) on 127.0.0.1, configured from one JSON document in OIDC_TEST_CONFIG.
// tests/oidcfixtures.py starts it and reads the one line it prints when it listens.
//
// OIDC_TEST_CONFIG:
//   port          0 (any free port) or a port number
//   clients       oidc-provider client metadata (client_id, client_secret, redirect_uris,
//                 grant_types, response_types, token_endpoint_auth_method, ...)
//   accounts      { login: { email, email_verified, name } }; the login is the account id, which
//                 oidc-provider always makes the sub (a sub among the claims is overridden); a
//                 login not listed still signs in (devInteractions take any name), with a sub
//                 and nothing else
//   id_token_ttl  seconds (optional; oidc-provider's default is an hour)
//   pkce_required true unless false: every code flow request must carry an S256 code_challenge,
//                 the confidential clients' too
//
// Once listening it prints one line to stdout, {"issuer": "http://127.0.0.1:PORT"}, and nothing
// more. It stops on SIGTERM, SIGINT, or when its stdin closes (the test run went away).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG ?? '{}');
const accounts = config.accounts ?? {};
const pkceRequired = config.pkce_required ?? true;

// A fresh signing key each start (RS256), so no development key is ever used.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-rs256' };

let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));

server.listen(config.port ?? 0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;

  const provider = new Provider(issuer, {
    clients: config.clients ?? [],
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    async findAccount(ctx, accountId) {
      const claims = accounts[accountId] ?? {};
      return {
        accountId,
        async claims() {
          return { ...claims, sub: accountId };
        },
      };
    },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    // The scopes' claims go into the ID token too, as the municipalities' providers put them
    // (OIDC Core puts them only in UserInfo when a code flow also issues an access token).
    conformIdTokenClaims: false,
    pkce: { required: () => pkceRequired },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      revocation: { enabled: true },
    },
    ttl: {
      AccessToken: 3600,
      ClientCredentials: 600,
      ...(config.id_token_ttl ? { IdToken: config.id_token_ttl } : {}),
    },
  });

  handler = provider.callback();
  process.stdout.write(`${JSON.stringify({ issuer })}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
