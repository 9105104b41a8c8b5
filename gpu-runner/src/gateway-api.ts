/** The runner's calls to the gateway other than heartbeats, with errors that say what to do. */
export async function gatewayCall(gatewayUrl: string, path: string, token: string, init: { method: 'GET' | 'POST'; body?: unknown }): Promise<any> {
  const url = new URL(path, gatewayUrl);
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: { authorization: `Bearer ${token}`, ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}) },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the gateway at ${url.origin} (${(err as Error).message})`);
  }
  const json = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  if (res.status === 401) throw new Error(`the gateway refused this runner's token (${json?.error?.message ?? 401}): run \`trd-worker login\``);
  if (!res.ok) throw new Error(`${init.method} ${url.pathname} failed with HTTP ${res.status}: ${json?.error?.message ?? 'unexpected answer'}`);
  return json;
}
