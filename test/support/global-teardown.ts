export default async function globalTeardown(): Promise<void> {
  const services = (globalThis as Record<string, unknown>).__trdServices as { stop(): Promise<void> } | undefined;
  await services?.stop();
}
