import { rm } from 'node:fs/promises';

export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as Record<string, unknown>).__trdServices as
    | { postgres: { stop(): Promise<void> }; temporal: { stop(): Promise<void> } }
    | undefined;
  await Promise.allSettled([services?.temporal.stop(), services?.postgres.stop()]);
  if (process.env.TRD_TEST_DIR) await rm(process.env.TRD_TEST_DIR, { recursive: true, force: true });
}
