/**
 * `npm run bench`: what the network costs on top of llama.cpp, measured in
 * one run on the same tiny model and prompt.
 *   1. bare node-llama-cpp in this process: generation tokens/s (1 and 2 threads);
 *   2. the same generation as jobs through gateway + Temporal + runner: tokens/s,
 *      and per-job overhead from acceptance to first token, p50/p99;
 *   3. cold starts: the warm runner stopped, a runner with the model only on disk
 *      (`--load on-demand`) takes each job after the warm wait; accepted → first token
 *      against the warm figure, and the load time (never billed);
 *   4. a burst of --jobs jobs at once on two runners (the warm one, and the once-cold one,
 *      now warm): jobs/s sustained, the split, and the warm-hit rate (jobs served by a
 *      runner that had the model loaded);
 *   5. OpenAI-compatible streaming (chat completions, SSE), one at a time: how long
 *      a token takes from the runner to the client, time to first token at the client
 *      against the runner's, and tokens/s the client sees against the runner's;
 *   6. a burst of --jobs small non-streaming chat completions at once on the two runners:
 *      requests/s the gateway sustains;
 *   0. first, the floor (scripts/floor/floor.ts): a one-activity workflow on the same Temporal
 *      server with two runner-like workers, --floor-sequential jobs one at a time and a burst of
 *      --jobs; the platform's figures are printed against it as ratios (issue 18's goals).
 * The platform runs with audit sampling at the ordinary rate (TRD_AUDIT_RATE's default, also for
 * probation runners, as for runners past probation), receipts pinned to the local store, reputation on.
 * The gateway, the orchestrator and the runner endpoint run as processes of their own, as deployed
 * (--platform in-process: all three in this process, on one event loop, as most tests run them).
 * Options: --jobs N (default 200), --tokens N (default 128), --floor-sequential N (default 100),
 * --platform processes|in-process, --floor-only (the floor alone), --json (one JSON line, for comparing runs).
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InferenceEngine } from '../gpu-runner/src/engine.js';
import { AS_PROCESSES, startPlatform } from '../devstack/platform.js';
import { startEphemeralServices } from '../devstack/services.js';
import { auditSettings } from '../audits/settings.js';
import { measureFloor, type FloorFigures } from './floor/floor.js';

const { values } = parseArgs({
  options: {
    jobs: { type: 'string', default: '200' },
    tokens: { type: 'string', default: '128' },
    'floor-sequential': { type: 'string', default: '100' },
    'floor-only': { type: 'boolean', default: false },
    platform: { type: 'string', default: 'processes' },
    json: { type: 'boolean', default: false },
  },
});
const JOBS = Number(values.jobs);
const TOKENS = Number(values.tokens);
const FLOOR_SEQUENTIAL = Number(values['floor-sequential']);
if (!Number.isInteger(JOBS) || JOBS < 1 || !Number.isInteger(TOKENS) || TOKENS < 1 || TOKENS > 512 || !Number.isInteger(FLOOR_SEQUENTIAL) || FLOOR_SEQUENTIAL < 1) {
  console.error('bench: --jobs and --floor-sequential must be positive integers and --tokens an integer from 1 to 512');
  process.exit(2);
}
if (values.platform !== 'processes' && values.platform !== 'in-process') {
  console.error(`bench: --platform is processes or in-process, not ${JSON.stringify(values.platform)}`);
  process.exit(2);
}
const PROCESSES = values.platform === 'processes';
const PROMPT = 'Benchmark prompt: tell me about the network';
const log = (line: string) => !values.json && console.log(line);

/** The platform's figures as the issue's goals read them: over and times the floor's. */
function againstFloor(floor: FloorFigures, p: { firstToken: { p50: number; p99: number }; roundTrip: { p50: number; p99: number }; tinyJobsPerS: number }) {
  const ratio = (a: number, b: number) => Number((a / Math.max(b, 1e-9)).toFixed(2));
  const fs = floor.start_to_activity_started_ms;
  const fr = floor.start_to_result_ms;
  return {
    dispatch_p50_over_ms: Number((p.firstToken.p50 - fs.p50).toFixed(1)),
    dispatch_p99_over_ms: Number((p.firstToken.p99 - fs.p99).toFixed(1)),
    dispatch_p50_ratio: ratio(p.firstToken.p50, fs.p50),
    dispatch_p99_ratio: ratio(p.firstToken.p99, fs.p99),
    round_trip_p50_ratio: ratio(p.roundTrip.p50, fr.p50),
    round_trip_p99_ratio: ratio(p.roundTrip.p99, fr.p99),
    throughput_ratio: ratio(p.tinyJobsPerS, floor.burst.jobs_per_s),
  };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
const median = (xs: number[]) => quantile([...xs].sort((a, b) => a - b), 0.5);
const COLD_STARTS = 3;
const STREAMS = 30;
const SESSION_JOBS = 50;
const pct = (xs: number[]) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return { p50: Number(quantile(sorted, 0.5).toFixed(1)), p99: Number(quantile(sorted, 0.99).toFixed(1)) };
};
/** From the gateway accepting the job to its first token: queueing, loading (cold starts), reading the prompt. */
const acceptedToFirstToken = (job: { timings: Record<string, number> }) =>
  job.timings.queue_wait_ms + job.timings.model_load_ms + job.timings.time_to_first_token_ms;

Runtime.install({ logger: new DefaultLogger('WARN') });
const services = await startEphemeralServices({ namespaces: ['bench'] });
try {
  const floor = await measureFloor({ temporalAddress: services.temporalAddress, namespace: 'bench', jobs: JOBS, sequential: FLOOR_SEQUENTIAL });
  log(`floor, a one-activity workflow on the same Temporal server, 2 runner-like workers:`);
  log(`  start → activity started:     p50 ${floor.start_to_activity_started_ms.p50} ms, p99 ${floor.start_to_activity_started_ms.p99} ms (${FLOOR_SEQUENTIAL} one at a time)`);
  log(`  start → result:               p50 ${floor.start_to_result_ms.p50} ms, p99 ${floor.start_to_result_ms.p99} ms`);
  log(`  burst of ${JOBS} at once:         ${floor.burst.jobs_per_s} jobs/s, split ${JSON.stringify(floor.burst.split)}`);
  if (values['floor-only']) {
    if (values.json) console.log(JSON.stringify({ floor }));
    await services.stop();
    process.exit(0);
  }
  const modelPath = join(services.modelsDir, 'trd-tiny.gguf');
  const bare: Record<string, number> = {};
  for (const threads of [1, 2]) {
    const engine = await InferenceEngine.load({ modelPath, sequences: 1, threads });
    const rates: number[] = [];
    for (let i = 0; i < 10; i++) {
      const g = await engine.generate({ prompt: PROMPT, maxTokens: TOKENS, temperature: 0 });
      rates.push((g.completionTokens / Math.max(1, g.generationMs)) * 1000);
    }
    await engine.dispose();
    bare[`threads_${threads}`] = Math.round(median(rates));
    log(`bare node-llama-cpp, ${threads} thread(s): ${bare[`threads_${threads}`]} tok/s (median of 10 × ${TOKENS} tokens)`);
  }

  const ordinaryAuditRate = auditSettings({}).rateBps;
  const platform = await startPlatform(services, {
    namespace: 'bench',
    audits: { rateBps: ordinaryAuditRate, probationRateBps: ordinaryAuditRate },
    ...(PROCESSES ? AS_PROCESSES : {}),
  });
  log(`platform: gateway, orchestrator and runner endpoint ${PROCESSES ? 'as processes' : 'in this process'}`);
  const warmRunner = await platform.startRunner({ workerId: 'bench-runner', extraArgs: ['--threads', '1'] });
  const overhead: number[] = [];
  const roundTrip: number[] = [];
  const runnerRates: number[] = [];
  let tokens = 0;
  const started = performance.now();
  for (let i = 0; i < JOBS; i++) {
    const t0 = performance.now();
    const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=60`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'trd-tiny', prompt: PROMPT, max_tokens: TOKENS }),
    });
    const job = await res.json();
    if (job.status !== 'succeeded') throw new Error(`job ${i} did not succeed: ${JSON.stringify(job)}`);
    roundTrip.push(performance.now() - t0);
    overhead.push(acceptedToFirstToken(job));
    runnerRates.push((job.usage.completion_tokens / Math.max(1, job.timings.generation_ms)) * 1000);
    tokens += job.usage.completion_tokens;
  }
  const wallSeconds = (performance.now() - started) / 1000;

  // What joining a session's receipt chain adds to a job: the same jobs, alternately plain and in one session.
  const chainTrips = { plain: [] as number[], session: [] as number[] };
  for (let i = 0; i < SESSION_JOBS * 2; i++) {
    const inSession = i % 2 === 1;
    const t0 = performance.now();
    const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=60`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'trd-tiny', prompt: PROMPT, max_tokens: TOKENS, ...(inSession ? { session_id: 'bench-session' } : {}) }),
    });
    const job = await res.json();
    if (job.status !== 'succeeded') throw new Error(`chain job ${i} did not succeed: ${JSON.stringify(job)}`);
    chainTrips[inSession ? 'session' : 'plain'].push(performance.now() - t0);
  }

  // Cold starts: a fresh runner each time, so every job pays a real model load.
  await warmRunner.stop();
  const cold: Array<{ firstTokenMs: number; loadMs: number; billableMs: number }> = [];
  for (let i = 0; i < COLD_STARTS; i++) {
    const runner = await platform.startRunner({ workerId: 'bench-runner-2', load: 'on-demand', extraArgs: ['--threads', '1'] });
    const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=60`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'trd-tiny', prompt: PROMPT, max_tokens: TOKENS }),
    });
    const job = await res.json();
    if (job.status !== 'succeeded' || job.timings.model_load_ms === 0) throw new Error(`cold start ${i} was not a cold start: ${JSON.stringify(job)}`);
    cold.push({ firstTokenMs: acceptedToFirstToken(job), loadMs: job.timings.model_load_ms, billableMs: job.billing.billable_ms });
    if (i < COLD_STARTS - 1) await runner.stop();
  }
  await platform.startRunner({ workerId: 'bench-runner', extraArgs: ['--threads', '1'] });

  const burstStarted = performance.now();
  const burst = await Promise.all(
    Array.from({ length: JOBS }, async (_, i) => {
      const res = await fetch(`${platform.baseUrl}/v1/jobs?wait=120`, {
        method: 'POST',
        headers: { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'trd-tiny', prompt: `${PROMPT} ${i}`, max_tokens: TOKENS }),
      });
      return res.json();
    }),
  );
  const burstSeconds = (performance.now() - burstStarted) / 1000;
  const failedInBurst = burst.filter((j) => j.status !== 'succeeded').length;
  if (failedInBurst) throw new Error(`${failedInBurst} burst jobs did not succeed`);
  const split: Record<string, number> = {};
  for (const j of burst) split[j.worker_id] = (split[j.worker_id] ?? 0) + 1;
  const warmHits = burst.filter((j) => j.timings.model_load_ms === 0).length;

  const headers = { authorization: `Bearer ${platform.apiKey}`, 'content-type': 'application/json' };
  const streamed = { tokenDelayMs: [] as number[], clientFirstTokenMs: [] as number[], runnerFirstTokenMs: [] as number[], clientTokS: [] as number[], runnerTokS: [] as number[] };
  for (let i = 0; i < STREAMS; i++) {
    const sentAt = performance.now();
    const res = await fetch(`${platform.baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'trd-tiny', messages: [{ role: 'user', content: `${PROMPT} ${i}` }], max_tokens: TOKENS, temperature: 0, stream: true }),
    });
    const jobId = res.headers.get('x-trd-job-id');
    const arrivals: number[] = [];
    let buffered = '';
    const decoder = new TextDecoder();
    for await (const bytes of res.body! as unknown as AsyncIterable<Uint8Array>) {
      const now = performance.now();
      buffered += decoder.decode(bytes, { stream: true });
      let end: number;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const data = buffered.slice(6, end);
        buffered = buffered.slice(end + 2);
        if (data === '[DONE]') continue;
        const chunk = JSON.parse(data);
        if (!chunk.choices?.[0]?.delta?.content) continue;
        arrivals.push(now);
        // Same machine, same clock: when the runner had the text against when this client got it.
        if (chunk.trd_generated_at) streamed.tokenDelayMs.push(performance.timeOrigin + now - chunk.trd_generated_at);
      }
    }
    const job = await (await fetch(`${platform.baseUrl}/v1/jobs/${jobId}`, { headers })).json();
    if (job.status !== 'succeeded' || arrivals.length === 0) throw new Error(`stream ${i} did not succeed: ${JSON.stringify(job)}`);
    streamed.clientFirstTokenMs.push(arrivals[0]! - sentAt);
    streamed.runnerFirstTokenMs.push(acceptedToFirstToken(job));
    streamed.clientTokS.push((job.usage.completion_tokens / Math.max(1, arrivals.at(-1)! - arrivals[0]!)) * 1000);
    streamed.runnerTokS.push((job.usage.completion_tokens / Math.max(1, job.timings.generation_ms)) * 1000);
  }

  const chatBurstStarted = performance.now();
  const chatBurst = await Promise.all(
    Array.from({ length: JOBS }, async (_, i) => {
      const res = await fetch(`${platform.baseUrl}/v1/chat/completions`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ model: 'trd-tiny', messages: [{ role: 'user', content: `small ${i}` }], max_tokens: 8, temperature: 0 }),
      });
      return res.status;
    }),
  );
  const chatBurstSeconds = (performance.now() - chatBurstStarted) / 1000;
  if (chatBurst.some((status) => status !== 200)) throw new Error(`chat burst statuses: ${JSON.stringify(chatBurst.filter((s) => s !== 200))}`);
  await platform.stop();

  const sortedOverhead = [...overhead].sort((a, b) => a - b);
  const sortedTrip = [...roundTrip].sort((a, b) => a - b);
  const result = {
    model: 'trd-tiny',
    cores: availableParallelism(),
    tokens_per_job: TOKENS,
    jobs: JOBS,
    bare_tok_s: bare,
    runner_generation_tok_s_median: Math.round(median(runnerRates)),
    end_to_end_tok_s: Math.round(tokens / wallSeconds),
    accepted_to_first_token_ms: { p50: quantile(sortedOverhead, 0.5), p99: quantile(sortedOverhead, 0.99), max: sortedOverhead.at(-1) },
    http_round_trip_ms: { p50: Math.round(quantile(sortedTrip, 0.5)), p99: Math.round(quantile(sortedTrip, 0.99)) },
    cold_start: {
      runs: COLD_STARTS,
      accepted_to_first_token_ms_median: median(cold.map((c) => c.firstTokenMs)),
      model_load_ms_median: median(cold.map((c) => c.loadMs)),
      billable_ms_median: median(cold.map((c) => c.billableMs)),
    },
    burst_two_runners: {
      jobs_per_s: Number((JOBS / burstSeconds).toFixed(1)),
      tok_s: Math.round((JOBS * TOKENS) / burstSeconds),
      split,
      warm_hit_rate: Number((warmHits / JOBS).toFixed(3)),
    },
    streaming: {
      streams: STREAMS,
      runner_to_client_token_ms: pct(streamed.tokenDelayMs),
      first_token_at_client_ms: pct(streamed.clientFirstTokenMs),
      first_token_at_runner_ms: pct(streamed.runnerFirstTokenMs),
      client_tok_s_median: Math.round(median(streamed.clientTokS)),
      runner_tok_s_median: Math.round(median(streamed.runnerTokS)),
    },
    chat_burst_two_runners: { requests: JOBS, max_tokens: 8, requests_per_s: Number((JOBS / chatBurstSeconds).toFixed(1)) },
    session_chain: { jobs_each: SESSION_JOBS, plain_round_trip_ms: pct(chainTrips.plain), session_round_trip_ms: pct(chainTrips.session) },
    floor,
    against_floor: againstFloor(floor, {
      firstToken: { p50: quantile(sortedOverhead, 0.5), p99: quantile(sortedOverhead, 0.99) },
      roundTrip: { p50: quantile(sortedTrip, 0.5), p99: quantile(sortedTrip, 0.99) },
      tinyJobsPerS: JOBS / chatBurstSeconds,
    }),
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    log(`through gateway + Temporal + runner, ${JOBS} sequential jobs of ${TOKENS} tokens:`);
    log(`  runner generation:            ${result.runner_generation_tok_s_median} tok/s (median per job)`);
    log(`  end to end:                   ${result.end_to_end_tok_s} tok/s (all tokens / wall time)`);
    log(`  accepted → first token:       p50 ${result.accepted_to_first_token_ms.p50} ms, p99 ${result.accepted_to_first_token_ms.p99} ms, max ${result.accepted_to_first_token_ms.max} ms`);
    log(`  POST ?wait round trip:        p50 ${result.http_round_trip_ms.p50} ms, p99 ${result.http_round_trip_ms.p99} ms`);
    const c = result.session_chain;
    log(`${SESSION_JOBS} jobs in one session's receipt chain against ${SESSION_JOBS} plain ones, alternating, POST ?wait round trip:`);
    log(`  plain:                        p50 ${c.plain_round_trip_ms.p50} ms, p99 ${c.plain_round_trip_ms.p99} ms`);
    log(`  in a session (chained):       p50 ${c.session_round_trip_ms.p50} ms, p99 ${c.session_round_trip_ms.p99} ms`);
    log(`cold start (warm runner stopped, ${COLD_STARTS} fresh runners with --load on-demand):`);
    log(`  accepted → first token:       median ${result.cold_start.accepted_to_first_token_ms_median} ms (warm p50: ${result.accepted_to_first_token_ms.p50} ms)`);
    log(`  model load:                   median ${result.cold_start.model_load_ms_median} ms, billed ms median ${result.cold_start.billable_ms_median} (load never billed)`);
    log(`burst of ${JOBS} jobs at once on two runners: ${result.burst_two_runners.jobs_per_s} jobs/s, ${result.burst_two_runners.tok_s} tok/s, split ${JSON.stringify(split)}, warm-hit rate ${result.burst_two_runners.warm_hit_rate}`);
    const s = result.streaming;
    log(`streaming chat completions (SSE), ${STREAMS} one at a time, ${TOKENS} tokens:`);
    log(`  runner has a token → client gets it: p50 ${s.runner_to_client_token_ms.p50} ms, p99 ${s.runner_to_client_token_ms.p99} ms`);
    log(`  first token at the client:    p50 ${s.first_token_at_client_ms.p50} ms, p99 ${s.first_token_at_client_ms.p99} ms (request sent → first content chunk)`);
    log(`  first token at the runner:    p50 ${s.first_token_at_runner_ms.p50} ms, p99 ${s.first_token_at_runner_ms.p99} ms (accepted → first token)`);
    log(`  tok/s the client sees:        ${s.client_tok_s_median} (runner's own: ${s.runner_tok_s_median}), medians`);
    log(`burst of ${JOBS} small chat completions (8 tokens, not streamed) at once on two runners: ${result.chat_burst_two_runners.requests_per_s} requests/s`);
    const f = result.against_floor;
    log(`platform against the floor (same run; goals: throughput ≥ 0.6 × floor, dispatch p50 ≤ floor + 10 ms, p99 ≤ floor + 30 ms):`);
    log(`  dispatch, accepted → first token vs start → activity started: p50 +${f.dispatch_p50_over_ms} ms, p99 +${f.dispatch_p99_over_ms} ms (×${f.dispatch_p50_ratio} / ×${f.dispatch_p99_ratio})`);
    log(`  POST ?wait round trip vs start → result:                      p50 ×${f.round_trip_p50_ratio}, p99 ×${f.round_trip_p99_ratio}`);
    log(`  tiny jobs (8-token chat burst) vs floor burst:                ×${f.throughput_ratio} (${result.chat_burst_two_runners.requests_per_s} / ${floor.burst.jobs_per_s} jobs/s)`);
  }
} finally {
  await services.stop();
}
