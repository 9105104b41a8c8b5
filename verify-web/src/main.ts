/**
 * The browser verifier: the same protocol code the server's tests run
 * (protocol/chain.ts, receipt.ts, cid.ts), bundled as a classic script so the
 * page also works opened from a file. It trusts nothing but the keys.
 */
import {
  JOB_ID_PATTERN,
  SESSION_ID_PATTERN,
  cidOfBytes,
  ed25519Engine,
  keyIdFor,
  keyring,
  openProof,
  parseCid,
  parseProofPrivateKey,
  proofProblems,
  PROOF_VERSION,
  ProofKeyError,
  type ReceiptEnvelope,
  parseReceipt,
  publicKeyFromPem,
  receiptDocumentBytes,
  signatureProblems,
  verifyChain,
  verifyDecisionChain,
  verifyReceipt,
  type ChainReport,
  type KeyInfo,
  type PublishedKey,
  type SignedReceipt,
} from '@trd/protocol';
import { headSightings, verifyCountersigned, type CountersignedAttestation } from '@trd/protocol/attestation';
import { parallelChecker, warmUpWorkers } from './parallel.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const value = (id: string) => $<HTMLInputElement | HTMLTextAreaElement>(id).value.trim();

class Failure extends Error {}

function show(ok: boolean, text: string): void {
  const el = $('result');
  el.className = ok ? 'ok' : 'bad';
  el.textContent = text;
}

function clear(): void {
  $('proof-opened').hidden = true;
  $('proof-prompt').textContent = '';
  $('proof-output').textContent = '';
  $('result').className = '';
  $('result').textContent = '';
  $('timing').textContent = '';
  $('lines').replaceChildren();
  $('sightings').replaceChildren();
  $('sightings-title').hidden = true;
}

/** Where the API is: the field, else this page's own site (not when opened from a file). */
function gateway(): string | null {
  const typed = value('gateway');
  if (typed) return typed.replace(/\/+$/, '');
  return location.protocol === 'http:' || location.protocol === 'https:' ? location.origin : null;
}

async function fetchOk(url: string, init?: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new Failure(`could not reach ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw new Failure(`${url}: HTTP ${res.status}${body?.error?.message ? ` — ${body.error.message}` : ''}`);
  }
  return res;
}

/** Pasted keys (a PEM or /keys JSON), else the gateway's published keys, else the file's own. */
async function publishedKeys(fileKeys?: PublishedKey[]): Promise<{ keys: PublishedKey[]; source: string }> {
  const pasted = value('key');
  if (pasted) {
    if (pasted.includes('BEGIN PUBLIC KEY')) {
      const kid = await keyIdFor(publicKeyFromPem(pasted));
      return { keys: [{ kid, public_key_pem: pasted, valid_from: '1970-01-01T00:00:00.000Z', valid_until: null }], source: 'the pasted key' };
    }
    try {
      return { keys: JSON.parse(pasted).keys, source: 'the pasted key list' };
    } catch {
      throw new Failure('the keys field holds neither a PEM public key nor the JSON of /keys');
    }
  }
  const base = gateway();
  if (base) {
    try {
      return { keys: (await (await fetchOk(`${base}/keys`)).json()).keys, source: `${base}/keys` };
    } catch (err) {
      if (!fileKeys) throw err;
    }
  }
  if (fileKeys) return { keys: fileKeys, source: 'the file itself (compare them with the platform’s published keys)' };
  throw new Failure('no keys: paste the platform’s public key, or set the gateway to fetch them');
}

async function renderChain(report: ChainReport, ms: number, keySource: string): Promise<void> {
  const fragment = document.createDocumentFragment();
  for (const line of report.lines) {
    const li = document.createElement('li');
    li.className = line.ok ? 'ok' : 'bad';
    if (line.seq !== null) li.dataset.seq = String(line.seq);
    const where = line.index === null ? '' : `#${line.seq ?? '?'} ${line.job_id ?? ''} ${line.cid ?? ''} — `;
    li.textContent = `${line.ok ? '✓' : '✗'} ${where}${line.detail}`;
    fragment.append(li);
  }
  $('lines').replaceChildren(fragment);
  const bad = report.lines.filter((l) => !l.ok).length;
  const receipts = report.lines.filter((l) => l.index !== null).length;
  const summary = report.ok
    ? `✓ Chain verified — session ${report.session_id}: ${receipts} receipts, head ${report.head}`
    : `✗ Chain invalid — session ${report.session_id ?? '?'}: ${bad} of ${report.lines.length} lines failed${report.problems.length ? `\n${report.problems.join('\n')}` : ''}`;
  show(report.ok, `${summary}\nKeys from ${keySource}.`);
  const engine = await ed25519Engine();
  $('timing').textContent = `Verified ${receipts} receipts in ${ms.toFixed(0)} ms (Ed25519 by ${engine === 'webcrypto' ? 'the browser’s WebCrypto' : '@noble/ed25519'}).`;
  $('timing').dataset.engine = engine;
  $('timing').dataset.ms = ms.toFixed(1);
  $('timing').dataset.receipts = String(receipts);
}

async function checkChain(doc: unknown): Promise<PublishedKey[]> {
  const { keys, source } = await publishedKeys((doc as { keys?: PublishedKey[] }).keys);
  const started = performance.now();
  const receipts = (doc as { receipts?: unknown }).receipts;
  const checker = parallelChecker(keys, Array.isArray(receipts) ? receipts.length : 0);
  // A browser that refuses workers gets the same checks on this thread.
  const report = await verifyChain(doc, keyring(keys), checker).catch((err) => {
    if (!checker) throw err;
    return verifyChain(doc, keyring(keys));
  });
  await renderChain(report, performance.now() - started, source);
  return keys;
}

const keysById = (keys: readonly PublishedKey[]) => new Map(keys.map((k) => [k.kid, publicKeyFromPem(k.public_key_pem)]));

/**
 * Federation: the peers the pod names for this session, each asked itself what the pod attested and
 * when (its countersigned copy, checked against both pods' keys), compared with the chain just
 * verified. A head a peer saw that this chain contradicts means the pod rewrote its history.
 */
async function checkSightings(base: string, sessionId: string, chain: { receipts?: Array<{ cid: string }> }, podKeys: readonly PublishedKey[]): Promise<void> {
  const own = await fetch(`${base}/v1/sessions/${encodeURIComponent(sessionId)}/attestations`).catch(() => null);
  // A gateway from before federation, or none configured: nothing to ask.
  if (!own?.ok) return;
  const { pod, peers } = (await own.json()) as { pod: string; peers: Array<{ name: string; base_url: string }> };
  if (!peers.length) return;
  const cids = (chain.receipts ?? []).map((r) => r.cid);
  const items: Array<{ ok: boolean; text: string }> = [];
  for (const peer of peers) {
    try {
      const peerKeys = keysById(((await (await fetchOk(`${peer.base_url}/keys`)).json()) as { keys: PublishedKey[] }).keys);
      const url = `${peer.base_url}/v1/federation/attestations?pod=${encodeURIComponent(pod)}&session=${encodeURIComponent(sessionId)}`;
      const { data } = (await (await fetchOk(url)).json()) as { data: CountersignedAttestation[] };
      const verified: CountersignedAttestation[] = [];
      for (const x of data) {
        const check = await verifyCountersigned(x, keysById(podKeys), peerKeys);
        if (check.ok) verified.push(x);
        else items.push({ ok: false, text: `✗ ${peer.name}: an exchange that does not verify (${check.reason})` });
      }
      if (!verified.length) items.push({ ok: true, text: `– ${peer.name} has seen no head of this session yet` });
      for (const s of headSightings(sessionId, cids, verified)) items.push({ ok: s.consistent, text: `${s.consistent ? '✓' : '✗'} seq ${s.seq} ${s.cid} — ${s.detail}` });
    } catch (err) {
      items.push({ ok: false, text: `✗ ${peer.name} (${peer.base_url}) could not be asked: ${(err as Error).message}` });
    }
  }
  $('sightings').replaceChildren(
    ...items.map((i) => {
      const li = document.createElement('li');
      li.className = i.ok ? 'ok' : 'bad';
      li.textContent = i.text;
      return li;
    }),
  );
  $('sightings-title').hidden = false;
  const contradicted = items.filter((i) => !i.ok && i.text.includes('rewritten')).length;
  if (contradicted) show(false, `✗ Rewritten — ${contradicted} head${contradicted > 1 ? 's' : ''} that peers countersigned ${contradicted > 1 ? 'are' : 'is'} not in this chain as served now\n${$('result').textContent}`);
}

/** Where blocks are fetched by CID: the IPFS gateway field, else the API's own /ipfs. */
function ipfsBase(): string {
  const ipfs = (value('ipfs-gateway') || gateway() || '').replace(/\/+$/, '');
  if (!ipfs) throw new Failure('set an IPFS gateway to fetch a block by CID');
  return ipfs;
}

/** A raw block by CID, checked against the CID: null and a reason when the bytes are not the block asked for. */
async function fetchBlock(cid: string): Promise<{ bytes: Uint8Array } | { problem: string }> {
  const bytes = new Uint8Array(await (await fetchOk(`${ipfsBase()}/ipfs/${cid}?format=raw`, { headers: { accept: 'application/vnd.ipld.raw' } })).arrayBuffer());
  const actual = await cidOfBytes(bytes);
  return actual === parseCid(cid).toV1().toString() ? { bytes } : { problem: `CID mismatch: asked for ${cid}, the bytes fetched hash to ${actual}` };
}

/**
 * The receipt's proof of work, opened here with the key typed in (it never leaves the page): the sealed
 * blob fetched by its CID, opened, and its prompt and output checked against the receipt's hashes.
 */
async function checkProof(env: ReceiptEnvelope): Promise<{ ok: boolean; text: string }> {
  if (env.proof_cid === undefined) return { ok: true, text: '' };
  const keyText = value('proof-key');
  if (!keyText) return { ok: true, text: `\nproof of work ${env.proof_cid} (sealed: give its key to open it)` };
  if (env.proof_v !== PROOF_VERSION) return { ok: false, text: `\n✗ proof: sealing version ${env.proof_v} is not one this page knows` };
  let key: Uint8Array;
  try {
    key = parseProofPrivateKey(keyText);
  } catch (err) {
    if (err instanceof ProofKeyError) return { ok: false, text: `\n✗ proof: the key ${err.message}` };
    throw err;
  }
  const block = await fetchBlock(env.proof_cid);
  if ('problem' in block) return { ok: false, text: `\n✗ proof: ${block.problem}` };
  const opened = await openProof(block.bytes, key);
  if (!opened.ok) return { ok: false, text: `\n✗ proof: ${opened.reason}` };
  const problems = await proofProblems(opened.contents, env);
  if (problems.length) return { ok: false, text: `\n✗ proof: ${problems.join('; ')}` };
  $('proof-prompt').textContent = opened.contents.prompt;
  $('proof-output').textContent = opened.contents.output;
  $('proof-opened').hidden = false;
  return { ok: true, text: `\n✓ proof of work ${env.proof_cid} opened: its prompt and output match the receipt's hashes` };
}

/** One receipt: its signature against the keyring, and its CID (against the expected one, when fetched by CID). */
async function checkOne(doc: unknown, expectedCid: string | null): Promise<void> {
  const parsed = parseReceipt(doc);
  if (!parsed.ok) return show(false, `✗ Invalid: ${parsed.reason}`);
  const { keys, source } = await publishedKeys();
  const problems = await signatureProblems(parsed, keyring(keys) as Map<string, KeyInfo>);
  const cid = await cidOfBytes(receiptDocumentBytes(doc as SignedReceipt));
  if (expectedCid && cid !== expectedCid) problems.push(`CID mismatch: asked for ${expectedCid}, the bytes hash to ${cid}`);
  const env = parsed.envelope;
  if (problems.length) return show(false, `✗ Invalid: ${problems.join('; ')}`);
  const chained = env.session_id !== undefined ? `\nsession ${env.session_id} · seq ${env.seq} · prev ${env.prev ?? '(first)'}` : '';
  const proof = await checkProof(env);
  show(proof.ok, `${proof.ok ? '✓ Valid' : '✗ Signature valid, proof refused'} — signed by ${env.kid} (keys from ${source})\njob ${env.job_id} · model ${env.model} · ${env.completion_tokens} tokens by ${env.worker_id ?? env.served_by}\nCID ${cid}${chained}${proof.text}`);
}

/** A runner's decision chain (the owner's download from the dashboard): every signature and link, against the platform's keys. */
async function checkDecisions(doc: { runner_id?: unknown; decisions?: unknown }): Promise<void> {
  const runner = String(doc.runner_id);
  const { keys, source } = await publishedKeys();
  const byKid = keysById(keys);
  const check = await verifyDecisionChain(doc.decisions, runner, (kid) => byKid.get(kid) ?? null);
  const list = Array.isArray(doc.decisions) ? (doc.decisions as Array<{ envelope?: { seq?: number; kind?: string; decided_at?: string; detail?: object } }>) : [];
  $('lines').replaceChildren(
    ...list.map((d, i) => {
      const li = document.createElement('li');
      const bad = !check.ok && check.seq !== null && i + 1 >= check.seq;
      li.className = bad ? 'bad' : 'ok';
      li.dataset.seq = String(i + 1);
      const e = d?.envelope ?? {};
      li.textContent = `${bad ? '✗' : '✓'} #${e.seq ?? '?'} ${e.kind ?? '?'} at ${e.decided_at ?? '?'} — ${JSON.stringify(e.detail ?? {})}`;
      return li;
    }),
  );
  show(
    check.ok,
    check.ok
      ? `✓ Decisions verified — runner ${runner}: ${check.decisions} decisions, each signed by the platform and naming the one before\nKeys from ${source}.`
      : `✗ Decisions invalid — runner ${runner}: at #${check.seq ?? '?'}: ${check.reason}\nKeys from ${source}.`,
  );
}

/** A pasted receipt, checked against a pasted PEM or the key file its kid names (the original page's behaviour). */
async function checkPasted(doc: unknown): Promise<void> {
  if (typeof doc === 'object' && doc !== null && (doc as { object?: unknown }).object === 'runner_decisions') return checkDecisions(doc);
  if (typeof doc === 'object' && doc !== null && 'receipts' in doc) return void (await checkChain(doc));
  const kid = (doc as { envelope?: { kid?: unknown } })?.envelope?.kid;
  if (typeof kid !== 'string') return show(false, '✗ Invalid: the receipt has no envelope.kid');
  const pasted = value('key');
  if (pasted && !pasted.includes('BEGIN PUBLIC KEY')) return checkOne(doc, null);
  let pem = pasted;
  if (!pem) {
    if (!/^[a-z0-9-]{1,64}$/.test(kid)) throw new Failure(`the receipt names an invalid key id ${JSON.stringify(kid)}`);
    const base = gateway();
    if (!base) throw new Failure('no key: paste the platform’s public key, or set the gateway');
    const res = await fetch(`${base}/keys/${kid}.public.pem`).catch(() => null);
    if (!res?.ok) throw new Failure(`could not fetch key ${kid} (HTTP ${res?.status ?? 'error'}); paste the PEM instead`);
    pem = await res.text();
  }
  const check = await verifyReceipt(doc, publicKeyFromPem(pem));
  if (!check.ok) return show(false, `✗ Invalid: ${check.reason}`);
  const env = (doc as SignedReceipt).envelope;
  const proof = await checkProof(env);
  show(proof.ok, `${proof.ok ? '✓ Valid' : '✗ Signature valid, proof refused'} — signed by ${check.kid}\njob ${env.job_id} · model ${env.model} · ${env.completion_tokens} tokens by ${env.worker_id ?? env.served_by}${proof.text}`);
}

async function lookUp(text: string): Promise<void> {
  let cid = null;
  try {
    cid = parseCid(text);
  } catch {
    // Not a CID: a job or a session.
  }
  if (cid) {
    const block = await fetchBlock(text);
    if ('problem' in block) return show(false, `✗ ${block.problem}`);
    const { bytes } = block;
    const actual = cid.toV1().toString();
    let doc: unknown;
    try {
      doc = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
    } catch {
      return show(false, `✗ The block ${text} is not a JSON receipt`);
    }
    return checkOne(doc, actual);
  }
  const base = gateway();
  if (!base) throw new Failure('set the gateway to look up a job or a session');
  if (JOB_ID_PATTERN.test(text)) return checkOne(await (await fetchOk(`${base}/v1/receipts/${text}`)).json(), null);
  if (SESSION_ID_PATTERN.test(text)) {
    const chain = await (await fetchOk(`${base}/v1/sessions/${encodeURIComponent(text)}/receipts`)).json();
    const keys = await checkChain(chain);
    return checkSightings(base, text, chain, keys);
  }
  throw new Failure(`"${text}" is not a session id, a job id (job_…) or a CID`);
}

function run(task: () => Promise<void>): void {
  clear();
  show(true, 'Verifying…');
  task().catch((err) => show(false, `✗ ${err instanceof Failure ? err.message : `Unexpected error: ${(err as Error).message}`}`));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Failure(`Not valid JSON: ${(err as Error).message}`);
  }
}

async function checkFile(file: File): Promise<void> {
  const doc = parseJson(await file.text());
  if (typeof doc === 'object' && doc !== null && 'receipts' in doc) return void (await checkChain(doc));
  return checkOne(doc, null);
}

$('verify').addEventListener('click', () =>
  run(async () => {
    const text = value('receipt');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      return show(false, `✗ Not valid JSON: ${(err as Error).message}`);
    }
    await checkPasted(doc);
  }),
);
$('verify-lookup').addEventListener('click', () => run(() => lookUp(value('lookup'))));
$('lookup').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') run(() => lookUp(value('lookup')));
});
$<HTMLInputElement>('file').addEventListener('change', () => {
  const file = $<HTMLInputElement>('file').files?.[0];
  if (file) run(() => checkFile(file));
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file) run(() => checkFile(file));
});

warmUpWorkers();

// Links from certificates and elsewhere: ?session=…, ?job=…, ?cid=…
const params = new URLSearchParams(location.search);
const linked = params.get('session') ?? params.get('job') ?? params.get('cid');
if (params.get('gateway')) $<HTMLInputElement>('gateway').value = params.get('gateway')!;
if (linked) {
  $<HTMLInputElement>('lookup').value = linked;
  run(() => lookUp(linked));
}
