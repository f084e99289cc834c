// Local OpenID provider (oidc-provider 9) for the tests and `make serve-oidc`; 127.0.0.1 only.
//   OIDC_CLIENT_SECRET=S node oidc/provider.mjs --port N --keys FILE --users FILE
//        --redirect URI [--redirect URI...] --resource URL
//        [--post-logout URI...] [--ttl SECONDS] [--client-id ID] [--rotate]
// The client secret comes from the environment: a command line is visible to every user.
// Sources of the configuration: node_modules/oidc-provider/lib/helpers/defaults.js,
// lib/models/formats/jwt.js and the project's recipes/skip_consent.md.
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Provider } from 'oidc-provider';

const { values: opt } = parseArgs({ options: {
  port: { type: 'string' }, keys: { type: 'string' }, users: { type: 'string' },
  'client-id': { type: 'string', default: 'fdo' },
  redirect: { type: 'string', multiple: true }, 'post-logout': { type: 'string', multiple: true },
  resource: { type: 'string' }, ttl: { type: 'string', default: '300' },
  rotate: { type: 'boolean', default: false } } });
const issuer = `http://127.0.0.1:${opt.port}`;
const clientSecret = process.env.OIDC_CLIENT_SECRET;
if (!clientSecret) throw new Error('OIDC_CLIENT_SECRET is not set');
const ttl = Number(opt.ttl);
// {"ada": {"password": "...", "name": "...", "orcid": "https://orcid.org/...",
//          "roles": ["curator:https://ror.org/..."]}}
const USERS = JSON.parse(readFileSync(opt.users, 'utf8'));
// Sign-out sends the browser back to the app: by default the root of each redirect's origin.
const postLogout = opt['post-logout'] ?? opt.redirect.map((uri) => `${new URL(uri).origin}/`);

// Keys in a file (0600) so a restart keeps them; --rotate puts a new key first (of like keys
// the first in the set signs, oidc-provider issue #449) and keeps the previous one published
// for the tokens already out.
const newKey = () => ({ ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
  .export({ format: 'jwk' }), kid: randomUUID(), alg: 'RS256', use: 'sig' });
let keys = existsSync(opt.keys) ? JSON.parse(readFileSync(opt.keys, 'utf8')).keys : [];
if (keys.length === 0 || opt.rotate) keys = [newKey(), ...keys].slice(0, 2);
writeFileSync(opt.keys, JSON.stringify({ keys }), { mode: 0o600 });

const provider = new Provider(issuer, {
  clients: [{ client_id: opt['client-id'], client_secret: clientSecret,
    redirect_uris: opt.redirect, post_logout_redirect_uris: postLogout,
    grant_types: ['authorization_code'], response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic' }],
  pkce: { required: () => true },          // v9 offers S256 only
  jwks: { keys },
  cookies: { keys: [clientSecret] },
  claims: { openid: ['sub'], profile: ['name'], orcid: ['orcid'], roles: ['roles'] },
  conformIdTokenClaims: false,             // the ID token itself carries name, orcid, roles
  async findAccount(ctx, sub) {
    const user = USERS[sub];
    return user && { accountId: sub,
      claims: async () => ({ sub, name: user.name, orcid: user.orcid, roles: user.roles ?? [] }) };
  },
  features: {
    devInteractions: { enabled: false },   // our own login page below checks passwords
    rpInitiatedLogout: { enabled: true },
    resourceIndicators: {                  // access tokens: JWTs (typ at+jwt) with aud = resource
      enabled: true, defaultResource: () => opt.resource, useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== opt.resource) throw new Error(`unknown resource ${indicator}`);
        return { scope: 'fdo', audience: opt.resource, accessTokenFormat: 'jwt',
                 accessTokenTTL: ttl, jwt: { sign: { alg: 'RS256' } } };
      } },
  },
  async extraTokenClaims(ctx, token) {     // orcid and roles in the access token too
    const user = USERS[token.accountId];
    return user && { orcid: user.orcid, roles: user.roles ?? [] };
  },
  async loadExistingGrant(ctx) {           // first-party client: no consent page
    const grantId = ctx.oidc.result?.consent?.grantId
      || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) return ctx.oidc.provider.Grant.find(grantId);
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope('openid profile orcid roles');
    grant.addResourceScope(opt.resource, 'fdo');
    await grant.save();
    return grant;
  },
  ttl: { AccessToken: ttl, IdToken: ttl, AuthorizationCode: 60, Interaction: 600,
         Session: 3600, Grant: 3600 },
  renderError(ctx, out) { ctx.type = 'json'; ctx.body = out; },
});

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (uid, error) => `<!doctype html><meta charset="utf-8"><title>Test sign-in</title>
<h1>Local test provider: sign in</h1>
<form method="post" action="/interaction/${escape(uid)}/login">
${error ? `<p id="error">${escape(error)}</p>` : ''}
<label>User <input name="login" id="login" autofocus></label>
<label>Password <input name="password" id="password" type="password"></label>
<button type="submit" id="submit">Sign in</button></form>`;
provider.use(async (ctx, next) => {       // the login step of every interaction
  if (!/^\/interaction\/[\w-]+(\/login)?$/.test(ctx.path)) return next();
  const { uid } = await provider.interactionDetails(ctx.req, ctx.res);
  ctx.set('Cache-Control', 'no-store');
  ctx.type = 'html';
  if (ctx.method === 'GET') { ctx.body = page(uid); return undefined; }
  let raw = '';
  for await (const chunk of ctx.req) raw += chunk;
  const form = new URLSearchParams(raw);
  const user = Object.hasOwn(USERS, form.get('login')) ? USERS[form.get('login')] : undefined;
  if (!user || user.password !== form.get('password')) {
    ctx.status = 401; ctx.body = page(uid, 'Wrong user or password'); return undefined;
  }
  return provider.interactionFinished(ctx.req, ctx.res,
    { login: { accountId: form.get('login') } }, { mergeWithLastSubmission: false });
});

const server = provider.listen(Number(opt.port), '127.0.0.1',
  () => console.log(`oidc-provider ready ${issuer} signing kid ${keys[0].kid}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => { server.close(() => process.exit(0)); server.closeAllConnections(); });
}
