/**
 * The owner dashboard: sign in with the account's API key (an HttpOnly
 * session cookie; the key is not kept in the page), then a live view from
 * /v1/owner/events (Server-Sent Events, no reload) and a settings editor per
 * runner whose saves the daemon applies at its next heartbeat.
 */
import { formatScheduleWindow, parseScheduleWindow, type ScheduleWindow } from '@trd/protocol';
import { drawHistory, watchHistoryMenu } from './plots.js';

interface RunnerSettings {
  paused: boolean;
  pause_on_battery: boolean;
  schedule: { timezone: string; windows: ScheduleWindow[] } | null;
  models: string[] | null;
  max_concurrent_jobs: number | null;
}

interface Overview {
  owner: { id: string; name: string };
  balance_microcredits: number;
  payout_rail: { rail: string; usdc_address: string | null; pending: { rail: string; usdc_address: string | null; effective_at: string } | null } | null;
  today: { jobs: number; earned_microcredits: number };
  runners: Array<{
    id: string;
    online: boolean;
    state: string | null;
    state_reason: string | null;
    tier: string;
    reputation: number;
    jobs_done: number;
    tokens_per_second: number | null;
    loaded_models: string[];
    current_jobs: string[];
    last_heartbeat_at: string | null;
    settings: RunnerSettings;
    audits: { passed: number; failed: number; last_failed: { job_id: string | null; detail: string; at: string } | null };
    update: { level: 'required' | 'recommended'; message: string; command: string } | null;
    /** Under a fleet: its member's daily cap reached (no new jobs until the fleet's midnight) or over the member's runner limit. */
    fleet?: { id: string; hold: string | null; refused: string | null } | null;
    /** Credits today for keeping a model warm while idle. */
    warm_pool_today?: { minutes: number; earned_microcredits: number };
    decisions_signed?: number;
  }>;
  recent_jobs: Array<{ id: string; model: string; worker_id: string; completion_tokens: number; earned_microcredits: number; finished_at: string | null; receipt_url: string }>;
}

const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector(sel) as T;

/** 1 credit = 1,000,000 µcr; 1,000 credits = 8 USD. Small amounts keep their digits: a job earns fractions of a credit. */
function credits(micro: number): string {
  const c = micro / 1e6;
  return `${c >= 100 ? c.toFixed(2) : c >= 1 ? c.toFixed(4) : c.toFixed(6)} cr`;
}
function usd(micro: number): string {
  const dollars = (micro / 1e6) * 0.008;
  return dollars === 0 ? '$0' : dollars < 0.0001 ? '< $0.0001' : `≈ $${dollars.toFixed(dollars >= 1 ? 2 : 4)}`;
}
const ago = (iso: string | null) => {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  return s < 60 ? `${s}s ago` : s < 3600 ? `${Math.floor(s / 60)}m ago` : `${Math.floor(s / 3600)}h ago`;
};

async function call(method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(path, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined, credentials: 'same-origin' });
  const json = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) throw Object.assign(new Error(json?.error?.message ?? `HTTP ${res.status}`), { status: res.status });
  return json;
}

let events: EventSource | null = null;
/** Forms the owner is editing are not overwritten by live updates until saved. */
const editing = new Set<string>();

function show(view: 'sign-in' | 'app'): void {
  $('#sign-in').hidden = view !== 'sign-in';
  $('#app').hidden = view !== 'app';
  $('#who').hidden = view !== 'app';
}

function pill(r: Overview['runners'][number]): [string, string] {
  if (!r.online) return ['offline', `Offline · last seen ${ago(r.last_heartbeat_at)}`];
  if (r.state === 'paused') return ['paused', `Paused · ${r.state_reason ?? 'by the owner'}`];
  if (r.state === 'starting') return ['paused', 'Starting · loading models'];
  return ['online', r.state === 'busy' ? 'Online · busy' : 'Online · idle'];
}

function fillSettings(form: HTMLFormElement, s: RunnerSettings): void {
  const field = (name: string) => form.elements.namedItem(name) as HTMLInputElement;
  field('paused').checked = s.paused;
  field('pause_on_battery').checked = s.pause_on_battery;
  field('schedule').value = s.schedule ? s.schedule.windows.map(formatScheduleWindow).join('; ') : '';
  field('timezone').value = s.schedule?.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  field('models').value = s.models ? s.models.join(', ') : '';
  field('max_concurrent_jobs').value = s.max_concurrent_jobs === null ? '' : String(s.max_concurrent_jobs);
}

function readSettings(form: HTMLFormElement): RunnerSettings {
  const value = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  const checked = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).checked;
  const windows = value('schedule') ? value('schedule').split(';').map((w) => w.trim()).filter(Boolean).map(parseScheduleWindow) : [];
  return {
    paused: checked('paused'),
    pause_on_battery: checked('pause_on_battery'),
    schedule: windows.length ? { timezone: value('timezone'), windows } : null,
    models: value('models') ? value('models').split(',').map((m) => m.trim()).filter(Boolean) : null,
    max_concurrent_jobs: value('max_concurrent_jobs') ? Number(value('max_concurrent_jobs')) : null,
  };
}

function runnerCard(r: Overview['runners'][number]): HTMLElement {
  let card = document.querySelector<HTMLElement>(`[data-runner="${CSS.escape(r.id)}"]`);
  if (!card) {
    card = ($('#runner-card') as HTMLTemplateElement).content.firstElementChild!.cloneNode(true) as HTMLElement;
    card.dataset.runner = r.id;
    const form = $<HTMLFormElement>('form', card);
    form.addEventListener('input', () => editing.add(r.id));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const status = $('.saved', form);
      try {
        await call('PUT', `/v1/owner/runners/${encodeURIComponent(r.id)}/settings`, readSettings(form));
        editing.delete(r.id);
        status.className = 'saved ok';
        status.textContent = 'Saved. The runner applies it at its next heartbeat.';
      } catch (err) {
        status.className = 'saved bad';
        status.textContent = (err as Error).message;
      }
    });
  }
  const [kind, text] = pill(r);
  const p = $('.pill', card);
  p.className = `pill ${kind}`;
  p.textContent = text;
  $('.runner-name', card).textContent = r.id;
  $('.runner-meta', card).textContent = r.online ? `heartbeat ${ago(r.last_heartbeat_at)}` : 'not connected';
  $('.tier', card).textContent = r.tier[0]!.toUpperCase() + r.tier.slice(1);
  $('.reputation', card).textContent = `${r.reputation}%`;
  $('.jobs-done', card).textContent = r.jobs_done.toLocaleString('en');
  $('.speed', card).textContent = r.tokens_per_second === null ? '–' : `${r.tokens_per_second.toLocaleString('en')} tok/s`;
  $('.loaded', card).textContent = r.loaded_models.join(', ') || '–';
  $('.current', card).textContent = r.current_jobs.length ? r.current_jobs.map((j) => j.slice(0, 12) + '…').join(', ') : '–';
  $('.audits', card).textContent = `${r.audits.passed} passed, ${r.audits.failed} failed`;
  const warm = r.warm_pool_today;
  $('.warm-pool', card).textContent = warm?.minutes ? `${warm.minutes} min today · ${credits(warm.earned_microcredits)}` : '–';
  // The chain to keep: downloaded, it checks in /verify/ against the platform's published keys.
  const decisions = $<HTMLAnchorElement>('.decisions', card);
  decisions.textContent = `${r.decisions_signed ?? 0} signed`;
  decisions.href = `/v1/owner/runners/${encodeURIComponent(r.id)}/decisions`;
  decisions.download = `${r.id}-decisions.json`;
  // A failed audit's evidence, in the auditor's words: what the owner needs to look into.
  const failure = $('.audit-failure', card);
  failure.hidden = !r.audits.last_failed;
  failure.textContent = r.audits.last_failed ? `Last failed audit (${ago(r.audits.last_failed.at)}): ${r.audits.last_failed.detail}` : '';
  // The platform's update notice, with the command: a required one means no new jobs until updated.
  const notice = $('.update-notice', card);
  notice.hidden = !r.update;
  notice.className = `update-notice ${r.update?.level === 'required' ? 'bad' : 'warn'}`;
  notice.textContent = r.update ? `${r.update.level === 'required' ? 'Update required' : 'Update available'}: ${r.update.message}` : '';
  const fleet = $('.fleet-notice', card);
  const fleetWord = r.fleet?.refused ?? r.fleet?.hold ?? null;
  fleet.hidden = !fleetWord;
  fleet.className = `fleet-notice ${r.fleet?.refused ? 'bad' : 'warn'}`;
  fleet.textContent = fleetWord ? `Fleet: ${fleetWord}` : '';
  if (!editing.has(r.id)) fillSettings($<HTMLFormElement>('form', card), r.settings);
  return card;
}

function render(o: Overview): void {
  $('#owner-name').textContent = o.owner.name;
  $('#balance').textContent = credits(o.balance_microcredits);
  $('#balance-usd').textContent = usd(o.balance_microcredits);
  const rail = o.payout_rail;
  $('#payout-rail').textContent = !rail ? '–' : rail.rail === 'usdc' ? `USDC to ${rail.usdc_address}` : 'Stripe Connect';
  // A pending change is shown until it applies: if the owner did not ask for it, their key is someone else's too.
  const pending = $('#payout-rail-pending');
  pending.hidden = !rail?.pending;
  pending.textContent = rail?.pending
    ? `Changing to ${rail.pending.rail === 'usdc' ? `USDC to ${rail.pending.usdc_address}` : 'Stripe Connect'} on ${new Date(rail.pending.effective_at).toISOString()} — not you? Cancel it (DELETE /v1/me/payout-rail/pending) and revoke your keys.`
    : '';
  $('#today-earned').textContent = credits(o.today.earned_microcredits);
  $('#today-jobs').textContent = `${o.today.jobs} job${o.today.jobs === 1 ? '' : 's'} today`;
  $('#online-count').textContent = `${o.runners.filter((r) => r.online).length} / ${o.runners.length}`;
  const list = $('#runners');
  list.replaceChildren(...o.runners.map(runnerCard));
  $('#no-runners').hidden = o.runners.length > 0;
  $('#jobs').replaceChildren(
    ...o.recent_jobs.map((j) => {
      const row = document.createElement('tr');
      const cells = [j.id.slice(0, 16) + '…', j.model, j.worker_id, j.completion_tokens.toLocaleString('en'), credits(j.earned_microcredits), ago(j.finished_at)];
      cells.forEach((text, i) => {
        const td = document.createElement('td');
        td.textContent = text;
        if (i === 3 || i === 4) td.className = 'num';
        row.append(td);
      });
      const link = document.createElement('a');
      link.href = j.receipt_url;
      link.target = '_blank';
      link.textContent = 'receipt';
      const cell = document.createElement('td');
      cell.append(link);
      row.append(cell);
      return row;
    }),
  );
  $('#no-jobs').hidden = o.recent_jobs.length > 0;
  document.body.dataset.updatedAt = String(Date.now());
}

/** Where sign-in was asked from (the approval page): a dashboard path only, never another site. */
function goBack(): boolean {
  const next = new URLSearchParams(location.search).get('next');
  if (!next || !/^\/dashboard\/[\w./?=&%-]*$/.test(next) || next.startsWith('//')) return false;
  location.assign(next);
  return true;
}

/** The plots follow the live overview: fetched again when it changes, at most once per HISTORY_EVERY_MS, the last change never dropped. */
const HISTORY_EVERY_MS = 2000;
let historyTimer: ReturnType<typeof setTimeout> | null = null;
let historyFetching = false;
let historyStale = false;
let historyFetchedAt = 0;
function refreshHistory(): void {
  // A change while a fetch is under way asks for one more after it.
  if (historyFetching) historyStale = true;
  if (historyTimer || historyFetching) return;
  historyTimer = setTimeout(
    async () => {
      historyTimer = null;
      historyFetching = true;
      historyFetchedAt = Date.now();
      try {
        drawHistory(await call('GET', '/v1/owner/history'));
        $('#history-error').textContent = '';
      } catch (err) {
        $('#history-error').textContent = `History: ${(err as Error).message}`;
      } finally {
        historyFetching = false;
        if (historyStale) {
          historyStale = false;
          refreshHistory();
        }
      }
    },
    Math.max(0, historyFetchedAt + HISTORY_EVERY_MS - Date.now()),
  );
}
watchHistoryMenu();

function goLive(first: Overview): void {
  if (goBack()) return;
  show('app');
  render(first);
  refreshHistory();
  events?.close();
  events = new EventSource('/v1/owner/events');
  events.addEventListener('overview', (e) => {
    render(JSON.parse((e as MessageEvent).data));
    refreshHistory();
  });
}

$('#sign-in-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = $<HTMLInputElement>('#api-key');
  try {
    goLive(await call('POST', '/v1/owner/session', { api_key: key.value.trim() }));
    key.value = '';
    $('#sign-in-error').textContent = '';
  } catch (err) {
    $('#sign-in-error').textContent = (err as Error).message;
  }
});

$('#sign-out').addEventListener('click', async () => {
  events?.close();
  await call('DELETE', '/v1/owner/session').catch(() => {});
  show('sign-in');
});

$('#email-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const status = $('#email-status');
  const next = new URLSearchParams(location.search).get('next');
  try {
    const sent = await call('POST', '/v1/owner/email-links', { email: $<HTMLInputElement>('#email').value.trim(), ...(next ? { next } : {}) });
    status.className = 'muted';
    status.textContent = `Sent: open the link in the mail to ${sent.email} (it works once, within ${Math.round(sent.expires_in / 60)} min).`;
  } catch (err) {
    status.className = 'error';
    status.textContent = (err as Error).message;
  }
});

// Opened from a sign-in mail: the link's token signs in once; it leaves the address bar at once.
const emailToken = new URLSearchParams(location.search).get('sign_in');
if (emailToken) {
  const url = new URL(location.href);
  url.searchParams.delete('sign_in');
  history.replaceState(null, '', url);
  call('POST', '/v1/owner/session/email', { token: emailToken }).then(goLive, (err) => {
    show('sign-in');
    $('#sign-in-error').textContent = (err as Error).message;
  });
} else call('GET', '/v1/owner/overview').then(goLive, () => show('sign-in'));
