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
// Misbehaviour, for the relying party's tests (both off unless given):
//   clock_offset_seconds  the provider's clock runs this many seconds off the real one (-7200: two
//                 hours behind). Date.now and new Date() are shifted in this process before
//                 oidc-provider is loaded, so the provider itself stamps iat and exp on that clock
//                 and a relying party on the real clock finds its ID tokens expired (or, ahead,
//                 issued in the future). The browser's cookies are stamped on it too: behind, the
//                 interaction's lifetime is lengthened by the offset so that the browser still
//                 holds the cookie while the login and consent pages are walked.
//   tamper_id_token  { claim: value }: the token endpoint's ID token gets these claims (a null
//                 removes the claim) and is signed again with the provider's own key (same kid,
//                 RS256). A misconfigured or compromised provider: the signature verifies, only the
//                 relying party's checks of the claims can refuse it.
//   forge_id_token_signature  true: the ID token is signed again with a key of the provider's kid
//                 that the provider never published (a forger who knows the kid, not the key), its
//                 claims as tamper_id_token leaves them. Only the signature check can refuse it.
//
// Once listening it prints one line to stdout, {"issuer": "http://127.0.0.1:PORT"}, and nothing
// more. It stops on SIGTERM, SIGINT, or when its stdin closes (the test run went away).

import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer } from 'node:http';

const config = JSON.parse(process.env.OIDC_TEST_CONFIG ?? '{}');
const accounts = config.accounts ?? {};
const pkceRequired = config.pkce_required ?? true;
const clockOffset = config.clock_offset_seconds ?? 0;
const tampered = config.tamper_id_token ?? null;
const forged = config.forge_id_token_signature ?? false;

if (clockOffset) {
  shiftClock(clockOffset * 1000);
}
// Loaded after the clock is set, so nothing in it holds the real one.
const { default: Provider } = await import('oidc-provider');

// A fresh signing key each start (RS256), so no development key is ever used.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), use: 'sig', alg: 'RS256', kid: 'test-rs256' };
// The forger's key: never published.
const forgerKey = forged ? generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey : null;

// This process's clock, `ms` milliseconds off: Date.now(), new Date() and Date() (as a string);
// a Date of a given time stays that time.
function shiftClock(ms) {
  const RealDate = Date;
  function ShiftedDate(...args) {
    if (!new.target) {
      return new RealDate(RealDate.now() + ms).toString();
    }
    return args.length ? new RealDate(...args) : new RealDate(RealDate.now() + ms);
  }
  Object.setPrototypeOf(ShiftedDate, RealDate);
  ShiftedDate.prototype = RealDate.prototype;
  ShiftedDate.now = () => RealDate.now() + ms;
  globalThis.Date = ShiftedDate;
}

// The ID token `jwt` with `claims` over its own (null removes one), signed again with `key`
// under the same protected header (alg RS256, kid).
function tamper(jwt, claims, key) {
  const [header, payload] = jwt.split('.');
  const changed = { ...JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) };
  for (const [name, value] of Object.entries(claims)) {
    if (value === null) {
      delete changed[name];
    } else {
      changed[name] = value;
    }
  }
  const input = `${header}.${Buffer.from(JSON.stringify(changed)).toString('base64url')}`;
  // RS256 is RSASSA-PKCS1-v1_5 with SHA-256, node's default for an RSA key.
  const signature = sign('sha256', Buffer.from(input), key).toString('base64url');
  return `${input}.${signature}`;
}

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
      ...(clockOffset < 0 ? { Interaction: 3600 - clockOffset } : {}),
    },
  });

  if (tampered || forged) {
    const tokenPath = new URL(provider.urlFor('token')).pathname;
    const key = forged ? forgerKey : privateKey;
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.path === tokenPath && ctx.status === 200 && ctx.body?.id_token) {
        ctx.body = { ...ctx.body, id_token: tamper(ctx.body.id_token, tampered ?? {}, key) };
      }
    });
  }

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
