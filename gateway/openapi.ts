/**
 * GET /openapi.json: OpenAPI 3.1, generated from the zod schemas that
 * validate the requests (zod's own JSON Schema output; OpenAPI 3.1 speaks
 * JSON Schema 2020-12). Every route the gateway serves is listed here once;
 * a test fails when the app has a route this list lacks.
 */
import { z } from 'zod';
import {
  ApiKeyPatchBody,
  SignInBody,
  EmailLinkBody,
  EmailSignInBody,
  ApproveDeviceCodeBody,
  ChatCompletionBody,
  CompletionBody,
  CreateApiKeyBody,
  CreateJobBody,
  DeviceCodeBody,
  DeviceTokenBody,
  EligibleQuery,
  LedgerQuery,
  OrgMemberBody,
  OrgPatchBody,
  PayoutRailBody,
  CodecBody,
  CidParams,
  IpfsQuery,
  redemptionBody,
  RunnerBenchBody,
  RunnerHeartbeatBody,
  RunnerSettingsBody,
  RunnerSettingsPatch,
  ReviewDecisionBody,
  SubmissionBody,
  WaitQuery,
} from './schemas.js';
import { EstimateQuery } from './workers.js';
import { AcceptFleetInviteBody, CreateFleetBody, FleetInviteBody, FleetMemberPatchBody, FleetPatchBody } from './fleets.js';
import { AttestationBody, PeerBody, PeerPatch, SightingsQuery } from './federation.js';

/** What the document depends on among the gateway's settings. */
export interface DocumentSettings {
  payoutMinimumCredits: number;
}

const JSON_TYPE = 'application/json';
const SSE = 'text/event-stream';
const HTML = 'text/html';
const SVG = 'image/svg+xml';
/** Express's redirect body: a line of text, or of HTML for a browser. */
const REDIRECT = ['text/plain', HTML];

type Auth = 'api_key' | 'runner_token' | 'stream_token' | 'owner_session' | 'stripe_signature' | 'federation_credential' | 'none';

export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** Express style (`/v1/jobs/:id`); written `{id}` in the document. */
  path: string;
  summary: string;
  auth: Auth;
  /** The JSON body's schema (a function of the settings when a bound is one); every route with a body requires it. */
  body?: z.ZodType | ((s: DocumentSettings) => z.ZodType);
  /** A body in another format than JSON. */
  bodyMedia?: string;
  query?: z.ZodType;
  /** Path parameters with a format of their own; any other is a string. */
  params?: z.ZodObject;
  /** Each status the route answers other than with an error, and its media types ([] for no body); 200 JSON when absent. */
  responses?: Record<number, string[]>;
  /** Rate-limited per client IP and credential (gateway/rate-limit.ts): 429 with Retry-After past the limit. */
  rateLimited?: true;
}

export const API_ROUTES: ApiRoute[] = [
  { method: 'post', path: '/v1/chat/completions', summary: 'Chat completion in OpenAI’s format; `stream: true` answers with Server-Sent Events', auth: 'api_key', body: ChatCompletionBody, responses: { 200: [JSON_TYPE, SSE] } },
  { method: 'post', path: '/v1/completions', summary: 'Text completion in OpenAI’s format; `stream: true` answers with Server-Sent Events', auth: 'api_key', body: CompletionBody, responses: { 200: [JSON_TYPE, SSE] } },
  { method: 'post', path: '/mcp', summary: 'MCP (Streamable HTTP, stateless): tools run_inference, list_models, get_job, verify_receipt, and agent_<slug> for each published agent', auth: 'api_key', responses: { 200: [JSON_TYPE, SSE], 202: [] } },
  { method: 'get', path: '/v1/agents', summary: 'Published agents (call one as `model: "agent:<slug>"` on /v1/chat/completions)', auth: 'none' },
  { method: 'get', path: '/v1/agents/:slug', summary: 'One published agent: its version, parameters and manifest hash', auth: 'none' },
  { method: 'post', path: '/v1/agents/submissions', summary: 'Submit an agent manifest for review (API key or dashboard sign-in); starts its review workflow', auth: 'api_key', body: SubmissionBody, responses: { 201: [JSON_TYPE] } },
  { method: 'get', path: '/v1/agents/submissions', summary: 'Your submissions and their status', auth: 'api_key' },
  { method: 'get', path: '/v1/agents/submissions/:id', summary: 'A submission: versions, checks, dry-run output, review events, diff against the published version', auth: 'api_key' },
  { method: 'post', path: '/v1/agents/submissions/:id/versions', summary: 'The author’s new version after changes were requested or checks failed; the same review continues', auth: 'api_key', body: SubmissionBody },
  { method: 'get', path: '/v1/review/queue', summary: 'Reviewers: submissions awaiting a review, oldest first', auth: 'api_key' },
  { method: 'post', path: '/v1/review/submissions/:id/decision', summary: 'Reviewers: approve (publishes that version), reject or request changes (with reasons); never one’s own', auth: 'api_key', body: ReviewDecisionBody },
  { method: 'get', path: '/agents', summary: 'The published agents (a web page)', auth: 'none', responses: { 200: [HTML] } },
  { method: 'get', path: '/agents/submit', summary: 'The agent submit page (public to read; submitting takes an API key or sign-in)', auth: 'none', responses: { 200: [HTML] } },
  { method: 'get', path: '/agents/review', summary: 'The reviewer queue page', auth: 'none', responses: { 200: [HTML] } },
  { method: 'get', path: '/agents/style.css', summary: 'The marketplace pages’ stylesheet', auth: 'none', responses: { 200: ['text/css'] } },
  { method: 'get', path: '/v1/models', summary: 'The model catalog, with whether warm capacity is online now', auth: 'none' },
  { method: 'get', path: '/v1/catalog', summary: 'The model catalog signed with the platform key (trd.model-catalog; runners check it with GET /keys)', auth: 'none' },
  { method: 'post', path: '/v1/jobs', summary: 'Submit a job; `?wait=S` waits up to S seconds for its result', auth: 'api_key', body: CreateJobBody, query: WaitQuery, responses: { 200: [JSON_TYPE], 202: [JSON_TYPE] } },
  { method: 'get', path: '/v1/jobs/:id', summary: 'A job’s state, output, usage, billing and receipt; `?wait=S` long-polls', auth: 'api_key', query: WaitQuery, responses: { 200: [JSON_TYPE], 202: [JSON_TYPE] } },
  { method: 'post', path: '/v1/jobs/:id/cancel', summary: 'Cancel a job; a running one is billed for what it generated', auth: 'api_key', query: WaitQuery, responses: { 200: [JSON_TYPE], 202: [JSON_TYPE] } },
  { method: 'get', path: '/v1/jobs/:id/receipt', summary: 'The signed receipt of a finished job', auth: 'api_key' },
  { method: 'post', path: '/v1/jobs/:id/stream', summary: 'Runners only: push a streaming job’s text (NDJSON of {offset, text, at})', auth: 'stream_token', bodyMedia: 'application/x-ndjson', responses: { 204: [] } },
  { method: 'get', path: '/v1/dispatch/eligible', summary: 'Runners that could take a job for this model now', auth: 'api_key', query: EligibleQuery },
  { method: 'get', path: '/v1/org', summary: 'The organization behind this key: monthly cap, spent this month, held by open jobs', auth: 'api_key' },
  { method: 'patch', path: '/v1/org', summary: 'Rename the organization or set its monthly spending cap (whole credits; null removes it)', auth: 'api_key', body: OrgPatchBody },
  { method: 'get', path: '/v1/org/members', summary: 'The organization’s members', auth: 'api_key' },
  { method: 'post', path: '/v1/org/members', summary: 'Add a member (or change a member’s role)', auth: 'api_key', body: OrgMemberBody, responses: { 201: [JSON_TYPE] } },
  { method: 'delete', path: '/v1/org/members/:email', summary: 'Remove a member (never the last owner)', auth: 'api_key', responses: { 204: [] } },
  { method: 'get', path: '/v1/org/keys', summary: 'The organization’s API keys (prefixes only)', auth: 'api_key' },
  { method: 'post', path: '/v1/org/keys', summary: 'Create an API key, optionally rate-limited; the key is shown once', auth: 'api_key', body: CreateApiKeyBody, rateLimited: true, responses: { 201: [JSON_TYPE] } },
  { method: 'patch', path: '/v1/org/keys/:id', summary: 'Change a key’s rate limit', auth: 'api_key', body: ApiKeyPatchBody },
  { method: 'delete', path: '/v1/org/keys/:id', summary: 'Revoke a key (never the last active one)', auth: 'api_key' },
  { method: 'post', path: '/v1/fleets', summary: 'Create a fleet (an owner organization; API key or dashboard sign-in): you are its first owner', auth: 'api_key', body: CreateFleetBody, responses: { 201: [JSON_TYPE] } },
  { method: 'get', path: '/v1/fleets', summary: 'The fleets you are a member of, with your role', auth: 'api_key' },
  { method: 'get', path: '/v1/fleets/:id', summary: 'A fleet: each member’s runners, jobs, earnings (today in the fleet’s time zone, and all), audits, caps and holds (a member sees their own)', auth: 'api_key' },
  { method: 'patch', path: '/v1/fleets/:id', summary: 'Owners: rename the fleet, set its time zone or whom payouts go to (organization or members)', auth: 'api_key', body: FleetPatchBody },
  { method: 'post', path: '/v1/fleets/:id/invites', summary: 'Owners and admins: invite an e-mail address as owner, admin or member (the link is answered once, and mailed when SMTP is set up)', auth: 'api_key', body: FleetInviteBody, responses: { 201: [JSON_TYPE] } },
  { method: 'post', path: '/v1/fleet-invites/accept', summary: 'Accept a fleet invite with your own account', auth: 'api_key', body: AcceptFleetInviteBody },
  { method: 'patch', path: '/v1/fleets/:id/members/:member', summary: 'Owners: a member’s role, daily earning cap (whole credits) and concurrent-runner limit (never demoting the last owner)', auth: 'api_key', body: FleetMemberPatchBody },
  { method: 'delete', path: '/v1/fleets/:id/members/:member', summary: 'Remove a member, or leave (never the last owner); their runners’ tokens are revoked', auth: 'api_key', responses: { 204: [] } },
  { method: 'post', path: '/v1/fleets/:id/redemptions', summary: 'Owners: redeem the fleet account’s credits (cash goes through the payout workflow to the fleet’s payout rail)', auth: 'api_key', body: (s) => redemptionBody(s.payoutMinimumCredits), responses: { 200: [JSON_TYPE], 201: [JSON_TYPE] } },
  { method: 'post', path: '/v1/runners/heartbeat', summary: 'Runners only: state and load; answered with id, tier and the owner’s settings', auth: 'runner_token', body: RunnerHeartbeatBody },
  { method: 'post', path: '/v1/runners/bench', summary: 'Runners only: file a benchmark result (a claim; tiers follow measured speed)', auth: 'runner_token', body: RunnerBenchBody, responses: { 201: [JSON_TYPE] } },
  { method: 'get', path: '/v1/runners/me', summary: 'This runner: state, tier, today’s jobs and earnings, its audits with the evidence', auth: 'runner_token' },
  { method: 'delete', path: '/v1/runners/token', summary: 'Runners only: revoke this runner’s own token (trd-worker logout)', auth: 'runner_token' },
  { method: 'delete', path: '/v1/runners/:id/token', summary: 'Revoke one of your runners’ tokens: it is cut off from the network within seconds', auth: 'api_key' },
  { method: 'get', path: '/v1/runners/settings', summary: 'The owner’s settings for this runner', auth: 'runner_token' },
  { method: 'put', path: '/v1/runners/settings', summary: 'Replace the owner’s settings (validated whole; a bad one changes nothing)', auth: 'runner_token', body: RunnerSettingsBody },
  { method: 'patch', path: '/v1/runners/settings', summary: 'Change some of the owner’s settings', auth: 'runner_token', body: RunnerSettingsPatch },
  { method: 'post', path: '/v1/runners/device-codes', summary: '`trd-worker login`: start a device-code login', auth: 'none', body: DeviceCodeBody, rateLimited: true, responses: { 201: [JSON_TYPE] } },
  { method: 'post', path: '/v1/runners/device-codes/approve', summary: 'The signed-in owner approves a device code', auth: 'api_key', body: ApproveDeviceCodeBody, rateLimited: true },
  { method: 'get', path: '/v1/runners/device-codes/approve', summary: 'The address older CLIs print: redirects to the approval page (`?code=` kept)', auth: 'none', responses: { 302: REDIRECT } },
  { method: 'get', path: '/v1/owner/device-codes/:code', summary: 'A device code’s machine (host name, GPU, runner version) and state, for the approval page', auth: 'owner_session', rateLimited: true },
  { method: 'post', path: '/v1/owner/device-codes/:code/approve', summary: 'Approve a device code from the dashboard: the CLI’s next poll gets its token', auth: 'owner_session', rateLimited: true },
  { method: 'post', path: '/v1/owner/device-codes/:code/deny', summary: 'Deny a device code: the CLI gets no token and stops', auth: 'owner_session', rateLimited: true },
  { method: 'post', path: '/v1/runners/device-token', summary: '`trd-worker login` polls for its runner token', auth: 'none', body: DeviceTokenBody, rateLimited: true },
  { method: 'get', path: '/v1/stats', summary: 'Public network statistics (CC BY 4.0)', auth: 'none' },
  { method: 'get', path: '/v1/stats.csv', summary: 'The same statistics as CSV', auth: 'none', responses: { 200: ['text/csv'] } },
  { method: 'get', path: '/badge.svg', summary: 'An embeddable badge with the network’s numbers', auth: 'none', responses: { 200: [SVG] } },
  { method: 'get', path: '/v1/workers/:id/badge.svg', summary: 'An embeddable badge for one runner (an unknown runner gets a grey one, with 404)', auth: 'none', responses: { 200: [SVG], 404: [SVG] } },
  { method: 'get', path: '/keys', summary: 'The receipt-signing public keys', auth: 'none' },
  { method: 'get', path: '/keys/:file', summary: 'One public key (`<kid>.public.pem` or `<kid>.json`)', auth: 'none', responses: { 200: ['application/x-pem-file', JSON_TYPE] } },
  { method: 'get', path: '/dashboard', summary: 'The owner dashboard (a web page; `/dashboard` redirects to `/dashboard/`)', auth: 'none', responses: { 200: [HTML], 301: REDIRECT } },
  { method: 'get', path: '/dashboard/device', summary: 'The page `trd-worker login` links to: approve or deny a runner login (`?code=` fills the code in)', auth: 'none', responses: { 200: [HTML] } },
  { method: 'get', path: '/dashboard/peers', summary: 'The operator’s federation pane: peers, their quotas, keys and attestations, who approved or revoked them (accounts with the operator role)', auth: 'none', responses: { 200: [HTML] } },
  { method: 'get', path: '/dashboard/style.css', summary: 'The dashboard’s stylesheet', auth: 'none', responses: { 200: ['text/css'] } },
  { method: 'post', path: '/v1/owner/session', summary: 'Dashboard sign-in with the account’s API key; sets an HttpOnly session cookie', auth: 'none', body: SignInBody, rateLimited: true, responses: { 201: [JSON_TYPE] } },
  { method: 'post', path: '/v1/owner/email-links', summary: 'Mail a one-time dashboard sign-in link to an address (the same answer whether or not it has an account)', auth: 'none', body: EmailLinkBody, rateLimited: true, responses: { 202: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'post', path: '/v1/owner/session/email', summary: 'Dashboard sign-in with the token of an e-mailed link (once, before it expires); sets the session cookie', auth: 'none', body: EmailSignInBody, rateLimited: true, responses: { 201: [JSON_TYPE] } },
  { method: 'delete', path: '/v1/owner/session', summary: 'Sign out of the dashboard', auth: 'none', responses: { 204: [] } },
  { method: 'get', path: '/v1/owner/overview', summary: 'The owner’s runners, balance, today’s earnings and recent jobs', auth: 'owner_session' },
  { method: 'get', path: '/v1/owner/events', summary: 'The overview, live (Server-Sent Events, `overview` events when it changes)', auth: 'owner_session', responses: { 200: [SSE] } },
  { method: 'get', path: '/v1/owner/history', summary: 'The dashboard’s plots (dashboard sign-in or an API key): per UTC day over 30 days earnings, speed and reliability, per hour over 7 days jobs and warm minutes; per runner and for all the owner’s runners', auth: 'owner_session' },
  { method: 'get', path: '/v1/owner/runners/:id/decisions', summary: 'The platform’s signed decisions about one of your runners (tier changes, shadowbans, jobs moved off it, required updates, warm-pool credits, a fleet cap reached), chained oldest first; paste it into /verify/ to check (dashboard sign-in or an API key)', auth: 'owner_session' },
  { method: 'put', path: '/v1/owner/runners/:id/settings', summary: 'Replace one of the owner’s runners’ settings', auth: 'owner_session', body: RunnerSettingsBody },
  { method: 'get', path: '/v1/receipts/:id', summary: 'A finished job’s signed receipt (hashes only), for anyone with the job id', auth: 'none' },
  { method: 'get', path: '/v1/me/balance', summary: 'Your balances: earnings of the runners you own (redeemable whole credits), and your customer account', auth: 'api_key' },
  { method: 'get', path: '/v1/me/ledger', summary: 'The ledger entries behind your balances, newest first (`?limit`, `?cursor` from `next_cursor`)', auth: 'api_key', query: LedgerQuery },
  { method: 'post', path: '/v1/me/redemptions', summary: 'Redeem earned credits into build credits or the cash payout queue (`Idempotency-Key` honored)', auth: 'api_key', body: (s) => redemptionBody(s.payoutMinimumCredits), responses: { 200: [JSON_TYPE], 201: [JSON_TYPE] } },
  { method: 'post', path: '/v1/me/payout-account', summary: 'Connect a Stripe account for cash payouts: the account (made once) and an onboarding link', auth: 'api_key', responses: { 200: [JSON_TYPE], 201: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'get', path: '/v1/me/payout-rail', summary: 'Where your cash payouts go (Stripe Connect or a USDC address on the platform’s chain), and a change waiting out its delay', auth: 'api_key' },
  { method: 'put', path: '/v1/me/payout-rail', summary: 'Change your payout rail or USDC address (EIP-55 checksummed, not a contract): it takes effect after the delay shown, so a stolen key cannot redirect a payout unseen', auth: 'api_key', body: PayoutRailBody, responses: { 202: [JSON_TYPE] } },
  { method: 'post', path: '/v1/codec/decode', summary: 'Temporal’s codec server protocol, for Temporal’s UI and CLI (API key or dashboard sign-in, CORS for TRD_CODEC_ALLOWED_ORIGINS): opens the payloads the caller’s roles may read (finance: payout settlements; reviewer: agent reviews) and returns every other one unchanged, still sealed', auth: 'api_key', body: CodecBody, responses: { 200: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'post', path: '/v1/codec/:namespace/decode', summary: 'The same, with the namespace in the path (the CLI’s `{namespace}` template); another namespace than the platform’s opens nothing', auth: 'api_key', body: CodecBody, responses: { 200: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'delete', path: '/v1/me/payout-rail/pending', summary: 'Cancel the payout rail change waiting out its delay', auth: 'api_key' },
  { method: 'post', path: '/v1/webhooks/stripe', summary: 'Stripe’s webhooks (signature checked; a bad one is refused and changes nothing)', auth: 'stripe_signature', responses: { 200: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'get', path: '/v1/workers/:id/card', summary: 'A runner’s public card: reliability, jobs, uptime (7 days, and each of the last 30), P99, measured class, tier, the 90-day badge', auth: 'none' },
  { method: 'get', path: '/v1/workers/:id/card.html', summary: 'The same card as a small HTML page to embed', auth: 'none', responses: { 200: [HTML], 400: [HTML], 404: [HTML] } },
  { method: 'get', path: '/v1/estimate', summary: 'Earnings estimate for a performance class over some hours (best effort, not a promise)', auth: 'none', query: EstimateQuery },
  { method: 'get', path: '/v1/sessions/:id/receipts', summary: 'A session’s receipt chain: receipts in order with their CIDs, the head, and the keys that signed them', auth: 'none' },
  { method: 'get', path: '/v1/sessions/:id/certificate.pdf', summary: 'The session’s certificate (PDF): stats, chain head, and a QR code to verify it', auth: 'api_key', responses: { 200: ['application/pdf'] } },
  { method: 'get', path: '/v1/sessions/:id/attestations', summary: 'This pod’s attestations of the session’s chain head, each countersigned by a peer, and where each peer is (ask it: GET /v1/federation/sightings)', auth: 'none' },
  { method: 'get', path: '/v1/operator/peers', summary: 'Operators (API key or dashboard sign-in): the pod’s federation peers, their quotas, keys, who approved or revoked them, and their attestation status', auth: 'api_key' },
  { method: 'post', path: '/v1/operator/peers', summary: 'Operators: peer with a pod (its keys are fetched from its /keys); answers the credential the peer presents to this pod, once', auth: 'api_key', body: PeerBody, responses: { 201: [JSON_TYPE], 502: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'patch', path: '/v1/operator/peers/:name', summary: 'Operators: give the credential the peer issued to this pod (its attestations then start), or change its address, quota or interval', auth: 'api_key', body: PeerPatch, responses: { 200: [JSON_TYPE], 502: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'post', path: '/v1/operator/peers/:name/revoke', summary: 'Operators: revoke a peering: its attestations are refused and none are sent to it', auth: 'api_key' },
  { method: 'post', path: '/v1/operator/peers/:name/attest', summary: 'Operators: send the peer this pod’s chain heads now; answers the exchange’s workflow id', auth: 'api_key', responses: { 202: [JSON_TYPE] } },
  { method: 'post', path: '/v1/federation/attestations', summary: 'Peers only: a signed attestation of the peer’s chain heads; answered with this pod’s countersignature (the same one when sent again)', auth: 'federation_credential', body: AttestationBody, responses: { 200: [JSON_TYPE], 503: [JSON_TYPE] } },
  { method: 'get', path: '/v1/federation/attestations', summary: 'What a peer attested to this pod about one of its sessions, each with this pod’s countersignature', auth: 'none', query: SightingsQuery },
  { method: 'get', path: '/v1/federation/sightings', summary: 'A peer’s session: the heads this pod saw and when, checked against the chain the peer publishes now (a rewrite shows as an inconsistent head)', auth: 'none', query: SightingsQuery, responses: { 200: [JSON_TYPE], 502: [JSON_TYPE] } },
  { method: 'get', path: '/ipfs/:cid', summary: 'A receipt document by CID, as a trustless gateway serves a raw block (`?format=raw` or `Accept: application/vnd.ipld.raw`)', auth: 'none', params: CidParams, query: IpfsQuery, responses: { 200: ['application/vnd.ipld.raw', JSON_TYPE] } },
  { method: 'get', path: '/verify', summary: 'The receipt verifier page (runs in the browser; `/verify` redirects to `/verify/`)', auth: 'none', responses: { 200: [HTML], 301: REDIRECT } },
  { method: 'get', path: '/metrics', summary: 'Prometheus metrics', auth: 'none', responses: { 200: ['text/plain'] } },
  { method: 'get', path: '/healthz', summary: 'Liveness', auth: 'none' },
  { method: 'get', path: '/openapi.json', summary: 'This document', auth: 'none' },
];

/** The schema of a route's JSON body under these settings, if it takes one. */
export function bodySchema(route: ApiRoute, settings: DocumentSettings): z.ZodType | undefined {
  return typeof route.body === 'function' ? route.body(settings) : route.body;
}

const ROUTE_PATTERNS = API_ROUTES.map((r) => ({
  method: r.method.toUpperCase(),
  // Express matches a trailing slash too (`/verify/`).
  pattern: new RegExp(`^${r.path.replace(/[.]/g, '\\.').replace(/:\w+/g, '[^/]+')}/?$`),
}));

/** The methods the document lists for a path (GET implies HEAD); empty for a path it does not have. */
export function methodsFor(path: string): string[] {
  const methods = ROUTE_PATTERNS.filter((r) => r.pattern.test(path)).map((r) => r.method);
  return methods.includes('GET') ? [...methods, 'HEAD'] : methods;
}

const SECURITY: Record<Exclude<Auth, 'none'>, { description: string }> = {
  api_key: { description: 'A customer API key, `Authorization: Bearer trd_sk_...`' },
  runner_token: { description: 'A runner token from `trd-worker login`, `Authorization: Bearer trd_rt_...`' },
  stream_token: { description: 'The per-job stream token the runner finds in its task, `Authorization: Bearer trd_st_...`' },
  owner_session: { description: 'The dashboard session cookie `trd_session`, from POST /v1/owner/session' },
  stripe_signature: { description: 'Stripe’s `Stripe-Signature` header over the raw body, with the endpoint’s signing secret' },
  federation_credential: { description: 'The credential this pod issued to a peer pod when peering, `Authorization: Bearer trdp_...`' },
};

const ERROR_CONTENT = { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } };

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' });

const STATUS_TEXT: Record<number, string> = { 200: 'OK', 201: 'Created', 202: 'Accepted: not finished yet', 204: 'No content', 301: 'Moved permanently (see Location)', 302: 'Found (see Location)', 400: 'Bad request', 404: 'Not found', 503: 'Not set up on this gateway (the error says which setting)' };

/**
 * Query and path parameters as the handler reads them: the value's type and
 * bounds (a query's `"0"` is the number 0, which `hours` refuses), and which
 * ones must be given.
 */
function parameters(schema: z.ZodType, where: 'query' | 'path'): Array<{ name: string; in: string; required: boolean; schema: object }> {
  const read = jsonSchema(schema, 'output') as { properties?: Record<string, object> };
  const given = jsonSchema(schema, 'input') as { required?: string[] };
  return Object.entries(read.properties ?? {}).map(([name, s]) => ({ name, in: where, required: where === 'path' || (given.required?.includes(name) ?? false), schema: s }));
}

export function openApiDocument(version: string, settings: DocumentSettings): object {
  const paths: Record<string, Record<string, object>> = {};
  for (const r of API_ROUTES) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const formatted = r.params ? parameters(r.params, 'path') : [];
    const params = [
      ...[...r.path.matchAll(/:(\w+)/g)].map(([, name]) => formatted.find((p) => p.name === name) ?? { name, in: 'path', required: true, schema: { type: 'string' } }),
      ...(r.query ? parameters(r.query, 'query') : []),
    ];
    const body = bodySchema(r, settings);
    const content = body ? { 'application/json': { schema: jsonSchema(body) } } : r.bodyMedia ? { [r.bodyMedia]: {} } : null;
    const ok = r.responses ?? { 200: [JSON_TYPE] };
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(content ? { requestBody: { required: true, content } } : {}),
      ...(r.auth === 'none' ? { security: [] } : { security: [{ [r.auth]: [] }] }),
      responses: {
        ...Object.fromEntries(
          Object.entries(ok).map(([status, media]) => [
            status,
            { description: STATUS_TEXT[Number(status)] ?? 'OK', ...(media.length ? { content: Object.fromEntries(media.map((m) => [m, {}])) } : {}) },
          ]),
        ),
        ...(content ? { '415': { description: `The body is not ${r.bodyMedia ?? 'JSON'} (send \`Content-Type: ${r.bodyMedia ?? JSON_TYPE}\`)`, content: ERROR_CONTENT } } : {}),
        ...(r.rateLimited
          ? {
              '429': {
                description: 'Too many requests from this client IP or for this credential; retry after the given seconds',
                headers: { 'Retry-After': { description: 'Seconds until the limit resets', schema: { type: 'integer', minimum: 1 } } },
                content: ERROR_CONTENT,
              },
            }
          : {}),
        default: { description: 'An error, in OpenAI’s shape', content: ERROR_CONTENT },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'TRD Compute gateway', version, description: 'Inference on GPUs people already own, with a receipt anyone can verify. OpenAI-compatible where it says so.' },
    paths,
    components: {
      securitySchemes: Object.fromEntries(
        Object.entries(SECURITY).map(([name, s]) => [
          name,
          name === 'owner_session'
            ? { type: 'apiKey', in: 'cookie', name: 'trd_session', description: s.description }
            : name === 'stripe_signature'
              ? { type: 'apiKey', in: 'header', name: 'Stripe-Signature', description: s.description }
              : { type: 'http', scheme: 'bearer', description: s.description },
        ]),
      ),
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['message', 'type', 'code'],
              properties: { message: { type: 'string' }, type: { type: 'string' }, param: { type: ['string', 'null'] }, code: { type: 'string' } },
            },
          },
        },
      },
    },
  };
}
