// A real OpenID provider for the gateway's integration tests: panva's oidc-provider behind
// an HTTPS server, configured by a JSON file the tests write (see
// tests/integration/support/oidc_provider.rs, which documents the whole contract).
//
//   node server.js CONFIG.json
//
// CONFIG.json: { port, cert, key, state_dir, id_token_claims, clients: [client metadata] }.
// The issuer is https://127.0.0.1:<port>. Its signing keys (one RSA key for RS256, one P-256
// key for ES256) live in <state_dir>/jwks.json, so a restart serves the same keys, as a
// real provider does. Users are the fixed set below; the login form is oidc-provider's own
// development interaction (any password is accepted; the login names the account), and
// consent is implied for every configured client.
//
// Besides the provider's own endpoints, /__admin/ serves the tests (loopback only):
//   POST /__admin/rotate   {keep_old?}            new signing keys with new kids -> {kids}
//   POST /__admin/clients  [client metadata]      replaces the registered clients -> {}
//   POST /__admin/mint     {claims, ttl?, alg?, key?, secret?, kid?} a JWT -> {token}
//        claims are merged over {iss, iat, exp = iat + ttl (seconds, may be negative)};
//        alg RS256 (default) or ES256 with the provider's current key, or with a fresh key
//        it never publishes when key = "unpublished"; alg HS256 signs with `secret`.
//        kid overrides the header's kid.
//   GET  /__admin/stats                           request counts by endpoint -> {jwks, ...}
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';

import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `https://127.0.0.1:${config.port}`;

// The users. `groups` is released with the `openid` scope (as an IdP's group mapper does);
// erin has no groups claim at all.
const users = {
  alice: {
    name: 'Alice Example', email: 'alice@example.com', email_verified: true, groups: ['staff', 'admins'],
  },
  bob: {
    name: 'Bob Contractor', email: 'bob@example.com', email_verified: true, groups: ['contractors'],
  },
  carol: {
    name: 'Carol Unverified', email: 'carol@example.com', email_verified: false, groups: ['staff'],
  },
  dave: {
    name: 'Dave Elsewhere', email: 'dave@elsewhere.test', email_verified: true, groups: ['staff'],
  },
  erin: { name: 'Erin Nogroups', email: 'erin@example.com', email_verified: true },
};

async function newKeys() {
  const keys = [];
  for (const alg of ['RS256', 'ES256']) {
    const { privateKey } = await generateKeyPair(alg, { extractable: true });
    keys.push({
      ...(await exportJWK(privateKey)), kid: randomUUID(), alg, use: 'sig',
    });
  }
  return keys;
}

const jwksFile = join(config.state_dir, 'jwks.json');
let jwks = existsSync(jwksFile)
  ? JSON.parse(readFileSync(jwksFile, 'utf8'))
  : { keys: await newKeys() };
writeFileSync(jwksFile, JSON.stringify(jwks));
let { clients } = config;
const cookieKeys = [randomUUID()];
const counts = {
  discovery: 0, jwks: 0, token: 0, userinfo: 0, authorization: 0, end_session: 0,
};

function buildProvider() {
  const provider = new Provider(issuer, {
    clients,
    jwks,
    cookies: { keys: cookieKeys },
    claims: {
      openid: ['sub', 'groups'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
    },
    conformIdTokenClaims: !config.id_token_claims,
    async findAccount(ctx, id) {
      const user = users[id];
      if (!user) return undefined;
      return {
        accountId: id,
        async claims() {
          return { sub: id, preferred_username: id, ...user };
        },
      };
    },
    // Consent is implied: every client here is first-party.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
      grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx, client, oneOf) => oneOf,
        useGrantedResource: () => true,
        async getResourceServerInfo(ctx, resource) {
          return {
            scope: 'api', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } },
          };
        },
      },
    },
    // Machine clients (client credentials) get the groups named in their metadata.
    extraClientMetadata: { properties: ['groups'] },
    async extraTokenClaims(ctx, token) {
      const client = token.clientId && await ctx.oidc.provider.Client.find(token.clientId);
      if (!token.accountId && client?.groups) return { groups: client.groups };
      return undefined;
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider.callback();
}

let handler = buildProvider();

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      try { resolve(body ? JSON.parse(body) : {}); } catch (err) { reject(err); }
    });
    req.on('error', reject);
  });
}

function signingKey(alg) {
  const jwk = jwks.keys.find((key) => key.alg === alg);
  if (!jwk) throw new Error(`no ${alg} key`);
  return jwk;
}

async function mint({
  claims = {}, ttl = 300, alg = 'RS256', key = 'current', secret, kid,
}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: issuer, iat: now, exp: now + ttl, ...claims,
  };
  let signWith;
  let header;
  if (alg === 'HS256') {
    signWith = new TextEncoder().encode(secret);
    header = { alg, kid: kid ?? signingKey('RS256').kid };
  } else {
    const jwk = key === 'unpublished' ? (await newKeys()).find((k) => k.alg === alg) : signingKey(alg);
    signWith = await importJWK(jwk, alg);
    header = { alg, kid: kid ?? jwk.kid, typ: 'JWT' };
  }
  return new SignJWT(payload).setProtectedHeader(header).sign(signWith);
}

async function admin(req, res, path) {
  let reply;
  if (req.method === 'POST' && path === '/__admin/rotate') {
    const { keep_old: keepOld } = await readJson(req);
    const fresh = await newKeys();
    jwks = { keys: keepOld ? [...fresh, ...jwks.keys] : fresh };
    writeFileSync(jwksFile, JSON.stringify(jwks));
    handler = buildProvider();
    reply = { kids: fresh.map((key) => key.kid) };
  } else if (req.method === 'POST' && path === '/__admin/clients') {
    clients = await readJson(req);
    handler = buildProvider();
    reply = {};
  } else if (req.method === 'POST' && path === '/__admin/mint') {
    reply = { token: await mint(await readJson(req)) };
  } else if (req.method === 'GET' && path === '/__admin/stats') {
    reply = counts;
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
}

const counted = {
  '/.well-known/openid-configuration': 'discovery',
  '/jwks': 'jwks',
  '/token': 'token',
  '/me': 'userinfo',
  '/auth': 'authorization',
  '/session/end': 'end_session',
};

const server = createServer(
  { cert: readFileSync(config.cert), key: readFileSync(config.key) },
  (req, res) => {
    const path = new URL(req.url, issuer).pathname;
    if (path.startsWith('/__admin/')) {
      admin(req, res, path).catch((err) => {
        console.error(err);
        res.writeHead(500).end(String(err));
      });
      return;
    }
    if (counted[path]) counts[counted[path]] += 1;
    handler(req, res);
  },
);
server.on('error', (err) => {
  console.error(`cannot listen on ${config.port}: ${err.code || err}`);
  process.exit(3);
});
server.listen(config.port, '127.0.0.1', () => console.log(`listening ${issuer}`));
