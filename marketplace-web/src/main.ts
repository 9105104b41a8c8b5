/**
 * The marketplace pages (/agents, /agents/submit, /agents/review), over the
 * public API: every text from a manifest is set as text, never as HTML. The
 * API key typed in stays in this tab (sessionStorage); without one the
 * dashboard's session cookie signs the requests.
 */
type Json = any;

const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document) => root.querySelector(sel) as T | null;

function el(tag: string, attrs: Record<string, string> = {}, ...children: Array<Node | string | null>): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null) e.append(c);
  return e;
}

const KEY = 'trd_api_key';
function apiKey(): string {
  const input = $<HTMLInputElement>('#api-key');
  const typed = input?.value.trim() ?? '';
  if (typed) sessionStorage.setItem(KEY, typed);
  return typed || sessionStorage.getItem(KEY) || '';
}

async function api(method: string, path: string, body?: unknown): Promise<{ ok: boolean; status: number; json: Json }> {
  const key = apiKey();
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { ok: res.ok, status: res.status, json: await res.json().catch(() => null) };
}

const problem = (json: Json) => json?.error?.message ?? 'the request failed';
const pretty = (v: unknown) => JSON.stringify(v, null, 2);

function checksList(checks: Json[] | null): HTMLElement {
  if (!checks) return el('p', { class: 'checks' }, 'automatic checks running…');
  return el('ul', { class: 'checks' }, ...checks.map((c) => el('li', { class: c.ok ? 'ok' : 'bad', 'data-check': c.name }, `${c.ok ? '✓' : '✗'} ${c.name}: ${c.detail}`)));
}

function eventsList(events: Json[]): HTMLElement {
  return el('ul', { class: 'events' }, ...events.map((e) => el('li', { 'data-event': e.kind }, `${e.at} · ${e.version} · ${e.kind}${e.actor_id ? ` by ${e.actor_id}` : ''}${e.reasons ? `: ${e.reasons}` : ''}`)));
}

function diffTable(diff: Json[], publishedVersion: string | null): HTMLElement {
  const head = el('tr', {}, el('th', {}, 'field'), el('th', {}, publishedVersion ? `published (${publishedVersion})` : 'published (none yet)'), el('th', {}, 'submitted'));
  const rows = diff.map((d) => el('tr', { 'data-field': d.field }, el('td', {}, d.field), el('td', {}, el('pre', {}, pretty(d.published))), el('td', {}, el('pre', {}, pretty(d.submitted)))));
  return el('table', { class: 'diff' }, head, ...rows);
}

/** One submission as a card: status, the current version's manifest, checks, dry run and events. */
function submissionCard(s: Json): HTMLElement {
  const current = s.versions.find((v: Json) => v.version === s.current_version) ?? s.versions[s.versions.length - 1];
  return el(
    'section',
    { class: 'card', 'data-submission': s.id },
    el('h3', {}, `${s.slug} ${s.current_version} `, el('span', { class: `status ${s.status}` }, s.status)),
    el('p', { class: 'meta' }, `submitted ${s.created_at} · ${s.id}${s.reminders ? ` · ${s.reminders} reminder(s)` : ''}${s.escalated_at ? ' · escalated' : ''} · workflow ${s.workflow_id}`),
    el('h4', {}, 'Automatic checks'),
    checksList(current?.checks ?? null),
    el('h4', {}, 'Dry-run output'),
    el('pre', { class: 'dry-run' }, current?.dry_run_output ?? '(none yet)'),
    el('h4', {}, 'History'),
    eventsList(s.events),
  );
}

async function agentsPage(): Promise<void> {
  const { json } = await api('GET', '/v1/agents');
  const list = $('#agents')!;
  list.replaceChildren(
    ...(json?.data?.length ? json.data : []).map((a: Json) =>
      el(
        'section',
        { class: 'card', 'data-agent': a.slug },
        el('h3', {}, a.name, ' ', el('code', {}, a.id), ` ${a.version}`),
        el('p', {}, a.description),
        el('p', { class: 'meta' }, `by ${a.author} · runs on ${a.model} · manifest sha256 ${a.manifest_sha256}`),
        el('pre', {}, `curl $GATEWAY/v1/chat/completions -H "Authorization: Bearer $KEY" -H 'content-type: application/json' \\\n  -d '{"model":"${a.id}","messages":[{"role":"user","content":"Hello"}]}'`),
      ),
    ),
  );
  if (!json?.data?.length) list.append(el('p', { id: 'no-agents' }, 'No agents are published yet.'));
}

async function submitPage(): Promise<void> {
  const textarea = $<HTMLTextAreaElement>('#manifest')!;
  const error = $('#submit-error')!;
  if (!textarea.value) {
    textarea.value = pretty({
      slug: 'my-agent',
      version: '1.0.0',
      name: 'My agent',
      description: 'What it does, for whom.',
      author: 'Your name',
      model: 'smollm2-135m-instruct',
      system_prompt: 'You are a helpful assistant.',
      parameters: { temperature: 0, max_tokens: 128, stop: [] },
      payout_account: 'cus_…',
    });
  }
  const stored = sessionStorage.getItem(KEY);
  if (stored) $<HTMLInputElement>('#api-key')!.value = stored;

  const refresh = async () => {
    const { ok, json } = await api('GET', '/v1/agents/submissions');
    const list = $('#submissions')!;
    if (!ok) {
      list.replaceChildren(el('p', { class: 'hint' }, json?.error?.code === 'not_signed_in' ? 'Give an API key or sign in to see your submissions.' : problem(json)));
      return [];
    }
    list.replaceChildren(...json.data.map((s: Json) => withResubmit(s, submissionCard(s))));
    return json.data as Json[];
  };

  /** After changes were requested (or checks failed): the author's next version, prefilled with the current one. */
  const withResubmit = (s: Json, card: HTMLElement) => {
    if (s.status !== 'changes_requested' && s.status !== 'checks_failed') return card;
    const current = s.versions.find((v: Json) => v.version === s.current_version);
    const next = el('textarea', { class: 'next-manifest', rows: '14' }) as HTMLTextAreaElement;
    next.value = pretty(current?.manifest ?? {});
    const err = el('div', { class: 'error resubmit-error' });
    const button = el('button', { class: 'resubmit' }, 'Send the new version');
    button.addEventListener('click', async () => {
      err.textContent = '';
      let manifest: unknown;
      try {
        manifest = JSON.parse(next.value);
      } catch {
        err.textContent = 'the manifest is not valid JSON';
        return;
      }
      const { ok, json } = await api('POST', `/v1/agents/submissions/${s.id}/versions`, { manifest });
      if (!ok) err.textContent = problem(json);
      else void poll();
    });
    card.append(el('h4', {}, 'Send a new version'), next, el('p', {}, button), err);
    return card;
  };

  // While a submission is being checked, look again every second.
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      for (let i = 0; i < 600; i++) {
        const subs = await refresh();
        if (!subs.some((s) => s.status === 'checking')) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      polling = false;
    }
  };

  $('#submit')!.addEventListener('click', async () => {
    error.textContent = '';
    $('#submit-result')!.textContent = '';
    let manifest: unknown;
    try {
      manifest = JSON.parse(textarea.value);
    } catch {
      error.textContent = 'the manifest is not valid JSON';
      return;
    }
    const { ok, json } = await api('POST', '/v1/agents/submissions', { manifest });
    if (!ok) {
      error.textContent = problem(json);
      return;
    }
    $('#submit-result')!.textContent = `submitted: ${json.id}`;
    void poll();
  });
  $('#refresh')!.addEventListener('click', () => void poll());
  void poll();
}

async function reviewPage(): Promise<void> {
  const error = $('#review-error')!;
  const stored = sessionStorage.getItem(KEY);
  if (stored) $<HTMLInputElement>('#api-key')!.value = stored;
  const load = async () => {
    error.textContent = '';
    const { ok, json } = await api('GET', '/v1/review/queue');
    const queue = $('#queue')!;
    if (!ok) {
      queue.replaceChildren();
      error.textContent = problem(json);
      queue.dataset.loads = String(++loads);
      return;
    }
    queue.replaceChildren(...json.data.map(reviewCard));
    if (!json.data.length) queue.append(el('p', { id: 'queue-empty' }, 'Nothing is waiting for a review.'));
    // Counts finished loads: what is on the page is from the latest one (and a test can wait for it).
    queue.dataset.loads = String(++loads);
  };
  let loads = 0;

  const reviewCard = (s: Json) => {
    const card = submissionCard(s);
    const current = s.versions.find((v: Json) => v.version === s.current_version);
    card.insertBefore(el('div', {}, el('h4', {}, 'Manifest'), el('pre', { class: 'manifest' }, pretty(current?.manifest))), card.querySelector('h4'));
    card.append(el('h4', {}, 'Changes against the published version'), diffTable(s.diff, s.published_version));
    const reasons = el('textarea', { class: 'reasons', rows: '3', placeholder: 'reasons for the author (required to reject or request changes)' }) as HTMLTextAreaElement;
    const err = el('div', { class: 'error decision-error' });
    const act = (action: string, label: string) => {
      const b = el('button', { class: action.replace('_', '-') }, label) as HTMLButtonElement;
      if (s.own) b.disabled = true;
      b.addEventListener('click', async () => {
        err.textContent = '';
        const { ok, json } = await api('POST', `/v1/review/submissions/${s.id}/decision`, { version: s.current_version, action, ...(reasons.value.trim() ? { reasons: reasons.value.trim() } : {}) });
        if (!ok) err.textContent = problem(json);
        else await load();
      });
      return b;
    };
    card.append(
      el('h4', {}, 'Decision'),
      ...(s.own ? [el('p', { class: 'own' }, 'This is your own submission: another reviewer decides it.')] : []),
      reasons,
      el('p', {}, act('approve', 'Approve and publish'), act('request_changes', 'Request changes'), act('reject', 'Reject')),
      err,
    );
    return card;
  };
  $('#load')!.addEventListener('click', () => void load());
  if (stored) void load();
}

const pages: Record<string, () => Promise<void>> = { index: agentsPage, submit: submitPage, review: reviewPage };
void pages[document.body.dataset.page ?? '']?.();
