/**
 * The network's public numbers: /v1/stats (JSON, CC BY 4.0) and its CSV agree
 * with the jobs that ran; the badges are SVG a browser renders; /metrics is
 * Prometheus text with request and job figures. Real stack, a real runner.
 */
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { chromium } from 'playwright-core';
import { api, startStack, type TestStack } from '../support/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let stack: TestStack;
const jobs: any[] = [];

beforeAll(async () => {
  stack = await startStack();
  await stack.startRunner({ workerId: 'stats-runner' });
  for (const i of [1, 2, 3]) jobs.push((await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: `stats ${i}`, max_tokens: 5 + i })).json);
  expect(jobs.map((j) => j.status)).toEqual(['succeeded', 'succeeded', 'succeeded']);
});

afterAll(async () => {
  await stack?.stop();
});

test('/v1/stats counts the jobs and tokens that ran, the runner online and its warm model, under CC BY 4.0', async () => {
  const res = await api(stack, 'GET', '/v1/stats', undefined, null);
  expect(res.status).toBe(200);
  const firstTokens = jobs.map((j) => j.timings.queue_wait_ms + j.timings.model_load_ms + j.timings.time_to_first_token_ms).sort((a, b) => a - b);
  expect(res.json).toMatchObject({
    object: 'network_stats',
    license: 'CC-BY-4.0',
    runners_online: 1,
    jobs_24h: 3,
    tokens_24h: 6 + 7 + 8,
    models_warm: ['trd-tiny'],
    median_time_to_first_token_ms: firstTokens[1],
    warm_hit_ratio_24h: 1,
  });
  expect(res.json.tokens_per_second_now).toBe(Math.round(21 / 60));

  const csv = await fetch(`${stack.baseUrl}/v1/stats.csv`);
  expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
  const [header, row] = (await csv.text()).trim().split('\n').map((l) => l.split(','));
  const fromCsv = Object.fromEntries(header!.map((k, i) => [k, row![i]]));
  expect(fromCsv).toMatchObject({ runners_online: '1', jobs_24h: '3', tokens_24h: '21', models_warm: 'trd-tiny', license: 'CC-BY-4.0' });
});

test('the badges are SVG that a browser renders, cached, and an unknown runner gets a grey one with a 404', async () => {
  const network = await fetch(`${stack.baseUrl}/badge.svg`);
  expect(network.headers.get('content-type')).toMatch(/^image\/svg\+xml/);
  expect(network.headers.get('cache-control')).toBe('public, max-age=60');
  expect(await network.text()).toMatch(/TRD network: 1 runner · 0 tok\/s/);
  const worker = await fetch(`${stack.baseUrl}/v1/workers/stats-runner/badge.svg`);
  expect(await worker.text()).toContain('TRD stats-runner: probation · 3 jobs');
  const unknown = await fetch(`${stack.baseUrl}/v1/workers/nobody/badge.svg`);
  expect(unknown.status).toBe(404);
  expect(await unknown.text()).toContain('unknown');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
  try {
    const page = await browser.newPage();
    for (const path of ['/badge.svg', '/v1/workers/stats-runner/badge.svg']) {
      await page.goto(`${stack.baseUrl}${path}`);
      // A malformed SVG would render as a parser error page instead of an <svg> root.
      const root = await page.evaluate(() => ({ name: document.documentElement.nodeName, errors: document.getElementsByTagName('parsererror').length, width: (document.documentElement as unknown as SVGSVGElement).getBBox().width }));
      expect(root).toMatchObject({ name: 'svg', errors: 0 });
      expect(root.width).toBeGreaterThan(50);
    }
  } finally {
    await browser.close();
  }
});

test('/metrics is Prometheus text with request latency by route and the jobs that finished', async () => {
  // Jobs are counted as they finish after the gateway started: these three.
  const res = await fetch(`${stack.baseUrl}/metrics`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  for (const line of text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?(\d|\+Inf|NaN)/);
  }
  expect(text).toMatch(/^trd_jobs_finished_total\{outcome="succeeded"\} 3$/m);
  expect(text).toMatch(/^trd_jobs_warm_hits_total 3$/m);
  expect(text).toMatch(/^trd_job_time_to_first_token_seconds_count 3$/m);
  expect(text).toMatch(/^trd_runners_online 1$/m);
  expect(text).toMatch(/^trd_http_request_duration_seconds_count\{method="POST",route="\/v1\/jobs",status="200"\} 3$/m);
  // Counted once: a second scrape adds nothing for the same jobs.
  expect(await (await fetch(`${stack.baseUrl}/metrics`)).text()).toMatch(/^trd_jobs_finished_total\{outcome="succeeded"\} 3$/m);
});
