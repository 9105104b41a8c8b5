/** `trd-worker login` / `logout`: register this runner with the network once, and forget it. */
import { Command } from 'commander';
import { credentialsFile, readCredentials, removeCredentials, writeCredentials } from '../credentials.js';
import { hostname } from 'node:os';
import { gatewayRequest, problemOf } from '../gateway-api.js';
import { RUNNER_VERSION } from '../version.js';
import { envText } from './options.js';

/** What the owner sees on the approval page, so they can tell the machine is theirs; never worth failing a login over. */
async function describeMachine(): Promise<{ hostname: string; gpu: string; runner_version: string }> {
  // Probing the GPU loads llama.cpp: bounded, a slow probe must not hold up the login.
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 15_000).unref());
  const gpu = await Promise.race([import('../zero-config.js').then((m) => m.detectHardware()), timeout]).then(
    (hw) => (hw.gpu === false ? 'none (CPU only)' : `${hw.gpu}, ${(hw.gpuMemoryMiB / 1024).toFixed(1)} GiB`),
    () => 'unknown (detection failed)',
  );
  // The gateway takes a host name of letters, digits, ".", "_" and "-".
  const host = hostname().replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 253) || 'unnamed';
  return { hostname: host, gpu, runner_version: RUNNER_VERSION };
}

/**
 * The device-code login (RFC 8628): prints the link with the code to approve, polls until the owner
 * approves or denies it; returns the runner's id and token (the caller stores them).
 */
export async function deviceLogin(base: string, o: { email?: string; fleet?: string }): Promise<{ runner_id: string; token: string }> {
  const post = (path: string, body: unknown) => gatewayRequest(base, path, { method: 'POST', body });
  const codes = await post('/v1/runners/device-codes', { ...(o.email ? { email: o.email } : {}), ...(o.fleet ? { fleet: o.fleet } : {}), machine: await describeMachine() });
  if (codes.status !== 201) throw new Error(`the gateway would not start a login: ${problemOf(codes)}`);
  // The link carries the code (RFC 8628's verification_uri_complete); the code is printed too, to check it is the same.
  const link = codes.json.verification_uri_complete ?? codes.json.verification_uri;
  console.error(`To register this runner${o.fleet ? ` in fleet ${o.fleet}` : ''}, open ${link} (signed in to your account) and approve code ${codes.json.user_code}.`);
  console.error(`Waiting for approval (the code expires in ${Math.round(codes.json.expires_in / 60)} min)…`);
  let intervalMs: number = codes.json.interval_ms;
  for (;;) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const poll = await post('/v1/runners/device-token', { device_code: codes.json.device_code });
    if (poll.status === 428) continue;
    // Rate-limited (other machines behind the same address poll too): slow down, as RFC 8628's slow_down asks.
    if (poll.status === 429) {
      intervalMs = Math.min(intervalMs * 2, 60_000);
      continue;
    }
    if (poll.status === 403 && poll.json?.error?.code === 'access_denied') throw new Error(`login denied: ${problemOf(poll)}`);
    if (poll.status !== 200) throw new Error(`login failed: ${problemOf(poll)}`);
    return { runner_id: poll.json.runner_id, token: poll.json.token };
  }
}

export function loginCommand(): Command {
  const env = process.env;
  return new Command('login')
    .description('register this runner with the network (once): prints a code to approve, then stores the runner token')
    .requiredOption('--gateway-url <url>', 'the network\'s gateway', envText(env, 'TRD_GATEWAY_URL'))
    .option('--email <address>', 'your e-mail, for the owner account')
    .option('--fleet <id>', 'register the runner in this fleet (you approve as one of its members)')
    .option('--token <token>', 'a runner token the gateway issued (headless machines, tests): stored after it is checked')
    .option('--json', 'print the stored runner id as JSON')
    .action(async (o) => {
      const base = new URL(o.gatewayUrl).origin;
      let runnerId: string;
      let token: string;
      if (o.token) {
        // The token's check reads the runner it names and writes nothing: a heartbeat here overwrote the state and
        // version of a daemon already serving with this token until its next beat (CI: `status` then said version null).
        const r = await gatewayRequest(base, '/v1/runners/me', { method: 'GET', token: o.token });
        if (r.status !== 200) throw new Error(`the gateway refused the token: ${problemOf(r)}`);
        ({ runner_id: runnerId } = r.json);
        token = o.token;
      } else {
        ({ runner_id: runnerId, token } = await deviceLogin(base, { email: o.email, fleet: o.fleet }));
      }
      const file = credentialsFile();
      await writeCredentials({ gateway_url: base, runner_id: runnerId, token });
      if (o.json) console.log(JSON.stringify({ runner_id: runnerId, credentials: file }));
      else console.log(`logged in as ${runnerId}; credential stored in ${file} (0600). Start serving with: trd-worker start`);
    });
}

export function logoutCommand(): Command {
  return new Command('logout').description('revoke this runner\'s token with the gateway and forget it').action(async () => {
    const file = credentialsFile();
    const stored = await readCredentials(file).catch(() => null);
    if (stored) {
      // Best effort: a gateway out of reach still lets the owner forget the credential (and revoke it from their account).
      const answer = await gatewayRequest(stored.gateway_url, '/v1/runners/token', { method: 'DELETE', token: stored.token }).catch((err: Error) => err);
      if (answer instanceof Error) console.log(`could not revoke the token (${answer.message}); revoke it with DELETE /v1/runners/${stored.runner_id}/token`);
      else if (answer.status === 200) console.log(`revoked the token of ${stored.runner_id}`);
    }
    console.log((await removeCredentials(file)) ? `removed ${file}` : `not logged in (no ${file})`);
  });
}
