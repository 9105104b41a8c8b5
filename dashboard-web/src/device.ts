/**
 * The page `trd-worker login` links to (/dashboard/device?code=ABCD-EFGH):
 * the signed-in owner sees the machine that asked (as its CLI described it)
 * and approves or denies it. Signing in happens on the dashboard, which sends
 * the owner back here.
 */
interface DeviceCode {
  user_code: string;
  status: 'pending' | 'approved' | 'denied';
  email: string | null;
  machine: { hostname: string; gpu: string | null; runner_version: string | null } | null;
  requested_at: string;
  runner_id: string | null;
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const CODE = /^[A-Za-z0-9]{4}-[A-Za-z0-9]{4}$/;

async function call(method: string, path: string): Promise<any> {
  const res = await fetch(path, { method, credentials: 'same-origin' });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(json?.error?.message ?? `HTTP ${res.status}`), { status: res.status });
  return json;
}

function fail(err: unknown): void {
  if ((err as { status?: number }).status === 401) return signedOut();
  $('#error').textContent = (err as Error).message;
}

function signedOut(): void {
  $('#code-form').hidden = true;
  $('#details').hidden = true;
  $('#signed-out').hidden = false;
  $<HTMLAnchorElement>('#sign-in-link').href = `./?next=${encodeURIComponent(location.pathname + location.search)}`;
}

function settled(c: DeviceCode): void {
  $('#choices').hidden = true;
  const result = $('#result');
  result.className = `done ${c.status === 'approved' ? 'ok' : 'bad'}`;
  result.textContent =
    c.status === 'approved'
      ? `Approved${c.runner_id ? ` as ${c.runner_id}` : ''}: the machine finishes logging in within seconds.`
      : 'Denied: the machine gets no token, and its login stops.';
}

function show(c: DeviceCode): void {
  $('#details').hidden = false;
  $('#choices').hidden = false;
  $('#result').textContent = '';
  $('#m-hostname').textContent = c.machine?.hostname ?? 'not given (an older trd-worker)';
  $('#m-gpu').textContent = c.machine?.gpu ?? '–';
  $('#m-version').textContent = c.machine?.runner_version ?? '–';
  $('#m-email').textContent = c.email ?? '–';
  $('#m-requested').textContent = new Date(c.requested_at).toLocaleString();
  if (c.status !== 'pending') settled(c);
}

let current: string | null = null;

async function lookUp(code: string): Promise<void> {
  $('#error').textContent = '';
  $('#details').hidden = true;
  try {
    show(await call('GET', `/v1/owner/device-codes/${encodeURIComponent(code)}`));
    current = code;
  } catch (err) {
    current = null;
    fail(err);
  }
}

async function decide(action: 'approve' | 'deny'): Promise<void> {
  if (!current) return;
  $('#error').textContent = '';
  try {
    await call('POST', `/v1/owner/device-codes/${encodeURIComponent(current)}/${action}`);
    await lookUp(current);
  } catch (err) {
    fail(err);
  }
}

$('#code-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const code = $<HTMLInputElement>('#user-code').value.trim().toUpperCase();
  if (!CODE.test(code)) {
    $('#error').textContent = 'the code looks like ABCD-EFGH';
    return;
  }
  history.replaceState(null, '', `?code=${code}`);
  void lookUp(code);
});
$('#approve').addEventListener('click', () => void decide('approve'));
$('#deny').addEventListener('click', () => void decide('deny'));

// Signed in? The overview answers 401 if not.
call('GET', '/v1/owner/overview').then(
  () => {
    $('#code-form').hidden = false;
    const code = new URLSearchParams(location.search).get('code')?.toUpperCase() ?? '';
    $<HTMLInputElement>('#user-code').value = code;
    if (CODE.test(code)) void lookUp(code);
  },
  (err) => fail(err),
);
