/**
 * The operator's governance pane (/dashboard/peers): the pod's federation peers over
 * /v1/operator/peers, with the dashboard's session cookie. Peer with a pod (its credential
 * shown once), give the credential it issued, send an attestation now, revoke. Refreshed every
 * few seconds, so an attestation's countersignature shows up as it arrives.
 */
interface Peer {
  name: string;
  base_url: string;
  status: 'active' | 'revoked' | 'awaiting_credential';
  quota_per_minute: number;
  attest_every_ms: number;
  keys: string[];
  approved_by: string;
  approved_at: string;
  revoked_by: string | null;
  revoked_at: string | null;
  tiers: Array<{ models: string; model: string; price: Price; cost: Price }>;
  attestations: { last_sent_at: string | null; last_countersigned_at: string | null; awaiting_countersignature: number; last_received_at: string | null; received: number };
}

type Price = { per: 'token'; promptMicrocreditsPer1k: number; completionMicrocreditsPer1k: number } | { per: 'second'; creditsPerHour: number };

const priceText = (p: Price) => (p.per === 'token' ? `${p.promptMicrocreditsPer1k}/${p.completionMicrocreditsPer1k} µcr per 1k prompt/completion tokens` : `${p.creditsPerHour} cr/h`);

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const REFRESH_MS = 5000;
const STATUS_TEXT = { active: 'active', revoked: 'revoked', awaiting_credential: 'awaiting its credential' } as const;

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(json?.error?.message ?? `HTTP ${res.status}`), { status: res.status });
  return json;
}

/** A time as an operator reads it: today's as a time, older ones with their date. */
function when(iso: string | null): string {
  if (!iso) return '–';
  const t = new Date(iso);
  return t.toDateString() === new Date().toDateString() ? t.toLocaleTimeString() : t.toLocaleString();
}

function cell(text: string, className = ''): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

function row(p: Peer): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.dataset.peer = p.name;
  const name = cell('');
  name.append(Object.assign(document.createElement('strong'), { textContent: p.name }), document.createElement('br'), Object.assign(document.createElement('span'), { className: 'muted', textContent: p.base_url }));
  const status = cell('');
  status.append(Object.assign(document.createElement('span'), { className: `pill peer-status ${p.status}`, textContent: STATUS_TEXT[p.status] }));
  if (p.revoked_at) status.append(document.createElement('br'), Object.assign(document.createElement('span'), { className: 'muted', textContent: `by ${p.revoked_by} · ${when(p.revoked_at)}` }));
  const a = p.attestations;
  const sent = a.last_sent_at ? `sent ${when(a.last_sent_at)}, countersigned ${when(a.last_countersigned_at)}${a.awaiting_countersignature ? ` (${a.awaiting_countersignature} awaiting)` : ''}` : 'none sent yet';
  const received = a.received ? `received ${a.received}, last ${when(a.last_received_at)}` : 'none received yet';
  const attestations = cell('', 'attestations');
  attestations.append(Object.assign(document.createElement('div'), { className: 'sent', textContent: sent }), Object.assign(document.createElement('div'), { className: 'received muted', textContent: received }));
  const acts = cell('');
  acts.append(actions(p));
  const tiers = cell(p.tiers.length ? '' : 'not a cascade tier', 'tiers muted');
  for (const t of p.tiers) tiers.append(Object.assign(document.createElement('div'), { textContent: `${t.models} (as ${t.model}): ${priceText(t.price)}, costs ${priceText(t.cost)}` }));
  tr.append(name, status, tiers, cell(String(p.quota_per_minute), 'num'), cell(p.keys.join(', '), 'id'), cell(`${p.approved_by} · ${when(p.approved_at)}`, 'id'), attestations, acts);
  return tr;
}

function actions(p: Peer): HTMLElement {
  const box = document.createElement('div');
  box.className = 'peer-actions';
  box.dataset.peer = p.name;
  if (p.status === 'revoked') return box;
  const button = (text: string, className: string, act: () => Promise<void>) => {
    const b = Object.assign(document.createElement('button'), { type: 'button', className: `small ${className}`, textContent: text });
    b.addEventListener('click', () => act().then(load, (err) => ($('#error').textContent = `${p.name}: ${(err as Error).message}`)));
    box.append(b);
  };
  if (p.status === 'awaiting_credential') {
    const input = Object.assign(document.createElement('input'), { placeholder: `its credential (trdp_…)`, className: 'credential', autocomplete: 'off' });
    box.append(input);
    button('Give its credential', 'give', () => call('PATCH', `/v1/operator/peers/${p.name}`, { credential: input.value.trim() }));
  } else {
    button('Attest now', 'attest', () => call('POST', `/v1/operator/peers/${p.name}/attest`));
  }
  button('Revoke', 'danger revoke', async () => {
    if (confirm(`Revoke the peering with ${p.name}? Its attestations and jobs are refused from now on.`)) await call('POST', `/v1/operator/peers/${p.name}/revoke`);
  });
  return box;
}

async function load(): Promise<void> {
  let list: { pod: string; data: Peer[] };
  try {
    list = await call('GET', '/v1/operator/peers');
  } catch (err) {
    const status = (err as { status?: number }).status;
    if (status === 401 || status === 403) return signedOut(status === 403 ? (err as Error).message : null);
    $('#error').textContent = (err as Error).message;
    return;
  }
  $('#error').textContent = '';
  $('#pane').hidden = false;
  $('#signed-out').hidden = true;
  $('#pod-name').textContent = `pod ${list.pod}`;
  $('#peers tbody').replaceChildren(...list.data.map(row));
  $('#no-peers').hidden = list.data.length > 0;
}

function signedOut(why: string | null): void {
  $('#pane').hidden = true;
  $('#signed-out').hidden = false;
  if (why) $('#signed-out-why').textContent = why;
  $<HTMLAnchorElement>('#sign-in-link').href = `./?next=${encodeURIComponent(location.pathname)}`;
}

$('#add-peer').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('#add-error').textContent = '';
  $('#issued').hidden = true;
  const name = $<HTMLInputElement>('#peer-name').value.trim();
  const credential = $<HTMLInputElement>('#peer-credential').value.trim();
  const quota = $<HTMLInputElement>('#peer-quota').value.trim();
  try {
    const peer = await call('POST', '/v1/operator/peers', {
      name,
      base_url: $<HTMLInputElement>('#peer-url').value.trim(),
      ...(credential ? { credential } : {}),
      ...(quota ? { quota_per_minute: Number(quota) } : {}),
    });
    $('#issued-to').textContent = peer.name;
    $('#issued-credential').textContent = peer.credential;
    $('#issued').hidden = false;
    $<HTMLFormElement>('#add-peer').reset();
    await load();
  } catch (err) {
    $('#add-error').textContent = (err as Error).message;
  }
});

/** A refresh redraws the table: not while the operator is typing a credential into it. */
const typing = () => $('#peers').contains(document.activeElement) || Array.from(document.querySelectorAll<HTMLInputElement>('#peers input')).some((i) => i.value !== '');

void load();
setInterval(() => void (typing() ? null : load()), REFRESH_MS);
