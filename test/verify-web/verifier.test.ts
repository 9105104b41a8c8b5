/** The auditor's page in a real browser (Debian's Chromium): real receipts pass, tampered ones fail with a reason. */
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { api, startStack, type TestStack } from '../support/stack.js';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
let stack: TestStack;
let browser: Browser;
let page: Page;
let receipt: { envelope: Record<string, unknown>; signature: string };

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run scripts/setup.sh --browser or set CHROMIUM_PATH`);
  stack = await startStack();
  await stack.startRunner();
  const job = await api(stack, 'POST', '/v1/jobs?wait=30', { model: 'trd-tiny', prompt: 'Audit me', max_tokens: 12 });
  expect(job.json.status).toBe('succeeded');
  receipt = job.json.receipt;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  page = await browser.newPage();
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

async function check(doc: string, key = ''): Promise<string> {
  await page.goto(`${stack.baseUrl}/verify/`);
  await page.fill('#receipt', doc);
  await page.fill('#key', key);
  await page.click('#verify');
  await page.waitForSelector('#result.ok, #result.bad');
  return page.textContent('#result') as Promise<string>;
}

describe('verify-web', () => {
  test('accepts a real receipt, fetching the key from the site', async () => {
    const text = await check(JSON.stringify(receipt));
    expect(text).toContain(`✓ Valid — signed by ${receipt.envelope.kid}`);
    expect(text).toContain(String(receipt.envelope.job_id));
  });

  test('accepts it with a pasted key and no network', async () => {
    const pem = await (await fetch(`${stack.baseUrl}/keys/${receipt.envelope.kid}.public.pem`)).text();
    await page.route('**/keys/**', (route) => route.abort());
    try {
      expect(await check(JSON.stringify(receipt), pem)).toContain('✓ Valid');
    } finally {
      await page.unroute('**/keys/**');
    }
  });

  test('rejects a changed token count and says the signature does not match', async () => {
    const tampered = { ...receipt, envelope: { ...receipt.envelope, completion_tokens: Number(receipt.envelope.completion_tokens) + 1 } };
    expect(await check(JSON.stringify(tampered))).toBe('✗ Invalid: signature does not match the receipt contents');
  });

  test('rejects a receipt with a malformed field, naming it', async () => {
    const tampered = { ...receipt, envelope: { ...receipt.envelope, output_sha256: 'xyz' } };
    expect(await check(JSON.stringify(tampered))).toBe('✗ Invalid: "output_sha256" must be 64 lowercase hex digits');
  });

  test('says so when the input is not JSON', async () => {
    expect(await check('{not json')).toMatch(/^✗ Not valid JSON/);
  });
});
