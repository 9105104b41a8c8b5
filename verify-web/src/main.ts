/**
 * The browser verifier: the same protocol code the server's tests run, bundled
 * for the page. It trusts nothing but the key, which the auditor may paste.
 */
import { publicKeyFromPem, verifyReceipt } from '@trd/protocol';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function show(ok: boolean, text: string): void {
  const el = $('result');
  el.className = ok ? 'ok' : 'bad';
  el.textContent = text;
}

async function keyFor(kid: string): Promise<string> {
  const pasted = $<HTMLTextAreaElement>('key').value.trim();
  if (pasted) return pasted;
  if (!/^[a-z0-9-]{1,64}$/.test(kid)) throw new Error(`the receipt names an invalid key id ${JSON.stringify(kid)}`);
  const res = await fetch(new URL(`/keys/${kid}.public.pem`, location.href));
  if (!res.ok) throw new Error(`could not fetch key ${kid} (HTTP ${res.status}); paste the PEM instead`);
  return res.text();
}

async function verify(): Promise<void> {
  let doc: unknown;
  try {
    doc = JSON.parse($<HTMLTextAreaElement>('receipt').value);
  } catch (err) {
    return show(false, `✗ Not valid JSON: ${(err as Error).message}`);
  }
  const kid = (doc as { envelope?: { kid?: unknown } })?.envelope?.kid;
  if (typeof kid !== 'string') return show(false, '✗ Invalid: the receipt has no envelope.kid');
  try {
    const check = await verifyReceipt(doc, publicKeyFromPem(await keyFor(kid)));
    if (!check.ok) return show(false, `✗ Invalid: ${check.reason}`);
    const env = (doc as { envelope: Record<string, unknown> }).envelope;
    show(true, `✓ Valid — signed by ${check.kid}\njob ${env.job_id} · model ${env.model} · ${env.completion_tokens} tokens by ${env.worker_id}`);
  } catch (err) {
    show(false, `✗ ${(err as Error).message}`);
  }
}

$('verify').addEventListener('click', () => void verify());
