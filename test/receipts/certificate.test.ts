/**
 * The session certificate: a real PDF, read back the way a person would read
 * it (poppler's pdftotext) and scanned the way a phone would (the QR code
 * decoded from a rendered page image).
 */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';
import { api, startStack, waitForJob, type TestStack } from '../support/stack.js';

// jsqr is CommonJS with a default export: under Node's ESM the module object is what `import` gives.
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;
const SESSION = 'release-build-77';
let stack: TestStack;
let jobs: any[];
let pdf: Buffer;
const dir = mkdtempSync(join(tmpdir(), 'certificate-'));

beforeAll(async () => {
  // A short deadline, so the job no runner may take fails within the test.
  stack = await startStack({ jobLimits: { deadlineMs: 6000 } });
  await stack.startRunner();
  const created = await Promise.all([
    ...[0, 1, 2].map((i) => api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: `Compile module ${i}`, max_tokens: 6 + i, session_id: SESSION })),
    // Only trusted runners may take this one, and there are none: it fails at its deadline.
    api(stack, 'POST', '/v1/jobs', { model: 'trd-tiny', prompt: 'Needs a trusted runner', max_tokens: 4, session_id: SESSION, min_tier: 'trusted' }),
  ]);
  jobs = await Promise.all(created.map((c) => waitForJob(stack, c.json.id, (j) => j.status === 'succeeded' || j.status === 'failed', 30_000)));
  const res = await fetch(`${stack.baseUrl}/v1/sessions/${SESSION}/certificate.pdf`, { headers: { authorization: `Bearer ${stack.apiKey}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/pdf');
  pdf = Buffer.from(await res.arrayBuffer());
  writeFileSync(join(dir, 'certificate.pdf'), pdf);
}, 90_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the session certificate', () => {
  test('states the session’s stats, events and chain head in its text', async () => {
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const text = execFileSync('pdftotext', ['-layout', join(dir, 'certificate.pdf'), '-'], { encoding: 'utf8' });
    const succeeded = jobs.filter((j) => j.status === 'succeeded');
    expect(succeeded).toHaveLength(3);
    const tokens = succeeded.reduce((n, j) => n + j.usage.prompt_tokens + j.usage.completion_tokens, 0);
    const chain = (await api(stack, 'GET', `/v1/sessions/${SESSION}/receipts`)).json;
    expect(text).toContain('TRD Compute session certificate');
    expect(text).toContain(`Session ${SESSION}`);
    expect(text).toMatch(/JOBS\s+TOKENS\s+TOTAL DURATION/);
    expect(text).toMatch(new RegExp(`\\b4\\s+${tokens.toLocaleString('en-US')}\\b`));
    expect(text).toMatch(/MODELS\s+WORKERS\s+TIME SPAN/);
    expect(text).toMatch(/trd-tiny\s+1\b/);
    expect(text).toContain(chain.head);
    expect(text).toContain('3 signed receipts');
    expect(text).toMatch(/Completed\s+3/);
    expect(text).toMatch(/Re-queued\s+0/);
    expect(text).toMatch(/Failed\s+1/);
    expect(text).toContain(`${stack.baseUrl}/verify/?session=${SESSION}`);
  });

  test('carries a QR code that decodes to the verify page for this session', async () => {
    mkdirSync('test-results', { recursive: true });
    execFileSync('pdftoppm', ['-png', '-r', '110', '-singlefile', join(dir, 'certificate.pdf'), 'test-results/certificate']);
    const png = PNG.sync.read(readFileSync('test-results/certificate.png'));
    const qr = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    expect(qr?.data).toBe(`${stack.baseUrl}/verify/?session=${SESSION}`);
    expect((await fetch(qr!.data)).status).toBe(200);
  });

  test('belongs to the session’s customer', async () => {
    const other = await stack.newApiKey('someone else');
    const res = await fetch(`${stack.baseUrl}/v1/sessions/${SESSION}/certificate.pdf`, { headers: { authorization: `Bearer ${other}` } });
    expect(res.status).toBe(404);
    expect((await fetch(`${stack.baseUrl}/v1/sessions/${SESSION}/certificate.pdf`)).status).toBe(401);
  });
});
