/** The runner's HTTP calls to the gateway: one place for reaching it and reading its errors. */
export interface GatewayAnswer {
  status: number;
  json: any;
}

/** Sends one request; throws only when the gateway cannot be reached. */
export async function gatewayRequest(gatewayUrl: string, path: string, init: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; body?: unknown; token?: string }): Promise<GatewayAnswer> {
  let url: URL;
  try {
    url = new URL(path, gatewayUrl);
  } catch {
    throw new Error(`the gateway URL ${JSON.stringify(gatewayUrl)} is not a URL (e.g. https://gateway.example.com)`);
  }
  let res: Response;
  try {
    res = await fetch(url, {
      method: init.method,
      headers: {
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new Error(`cannot reach the gateway at ${url.origin} (${(err as Error).message})`);
  }
  return { status: res.status, json: await res.json().catch(() => null) };
}

/** The gateway's own words for a refusal, or the status. */
export function problemOf(answer: GatewayAnswer): string {
  return answer.json?.error?.message ?? `HTTP ${answer.status}`;
}

/** A call that must succeed: a refused token says to log in, any other refusal says what the gateway said. */
export async function gatewayCall(gatewayUrl: string, path: string, token: string, init: { method: 'GET' | 'POST' | 'PATCH' | 'DELETE'; body?: unknown }): Promise<any> {
  const answer = await gatewayRequest(gatewayUrl, path, { ...init, token });
  if (answer.status === 401) throw new Error(`the gateway refused this runner's token (${problemOf(answer)}): run \`trd-worker login\``);
  if (answer.status < 200 || answer.status > 299) throw new Error(`${init.method} ${path} failed with HTTP ${answer.status}: ${problemOf(answer)}`);
  return answer.json;
}
