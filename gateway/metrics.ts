/**
 * GET /metrics in Prometheus' text format (prom-client). Request latency is
 * measured as requests pass (each replica its own). Job figures come from
 * PostgreSQL at scrape time: each finished job is claimed by exactly one
 * replica's scrape (a row lock and a mark on the row, no clock), so job
 * counters and histograms summed across replicas count every job once.
 */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../platform/db.js';
import type { NetworkStats } from './network-stats.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export function gatewayMetrics(deps: { db: Db; stats: () => Promise<NetworkStats> }) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'trd_gateway_' });

  const requests = new Histogram({
    name: 'trd_http_request_duration_seconds',
    help: 'HTTP requests by method, route and status; a streamed response counts until its last byte',
    labelNames: ['method', 'route', 'status'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const jobLatency = new Histogram({ name: 'trd_job_duration_seconds', help: 'Accepted to finished, by outcome', labelNames: ['outcome'], buckets: LATENCY_BUCKETS, registers: [registry] });
  const queueWait = new Histogram({ name: 'trd_job_queue_wait_seconds', help: 'Accepted to started on a runner, succeeded jobs', buckets: LATENCY_BUCKETS, registers: [registry] });
  const firstToken = new Histogram({ name: 'trd_job_time_to_first_token_seconds', help: 'Accepted to first token (queue, model load, prompt), succeeded jobs', buckets: LATENCY_BUCKETS, registers: [registry] });
  const outcomes = new Counter({ name: 'trd_jobs_finished_total', help: 'Finished jobs this replica counted (each job is counted by one replica: sum across replicas), by outcome', labelNames: ['outcome'], registers: [registry] });
  const warmHits = new Counter({ name: 'trd_jobs_warm_hits_total', help: 'Succeeded jobs whose runner had the model loaded', registers: [registry] });
  const ratio = new Gauge({ name: 'trd_warm_hit_ratio', help: 'Warm hits among succeeded jobs over the last 24 h', registers: [registry] });
  const runners = new Gauge({ name: 'trd_runners_online', help: 'Runners that heartbeat lately and take jobs', registers: [registry] });

  /** Claims and observes the finished jobs no replica has counted yet, each once. */
  async function observeFinishedJobs(): Promise<void> {
    const jobs = await deps.db.$queryRaw<
      { status: string; accepted_at: Date; finished_at: Date; queue_wait_ms: number | null; model_load_ms: number | null; time_to_first_token_ms: number | null }[]
    >`UPDATE jobs SET metrics_observed_at = now()
      WHERE id IN (SELECT id FROM jobs WHERE finished_at IS NOT NULL AND metrics_observed_at IS NULL ORDER BY finished_at LIMIT 10000 FOR UPDATE SKIP LOCKED)
      RETURNING status::text AS status, accepted_at, finished_at, queue_wait_ms, model_load_ms, time_to_first_token_ms`;
    for (const j of jobs) {
      outcomes.inc({ outcome: j.status });
      jobLatency.observe({ outcome: j.status }, (j.finished_at.getTime() - j.accepted_at.getTime()) / 1000);
      if (j.status !== 'succeeded' || j.queue_wait_ms === null) continue;
      queueWait.observe(j.queue_wait_ms / 1000);
      firstToken.observe((j.queue_wait_ms + (j.model_load_ms ?? 0) + (j.time_to_first_token_ms ?? 0)) / 1000);
      if (j.model_load_ms === 0) warmHits.inc();
    }
  }

  const measure: RequestHandler = (req, res, next) => {
    const end = requests.startTimer();
    res.once('close', () => {
      // The route pattern, not the path: one series per route, not per job id.
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ method: req.method, route: String(route), status: String(res.statusCode) });
    });
    next();
  };

  const serve: RequestHandler = async (_req, res) => {
    await observeFinishedJobs();
    const s = await deps.stats();
    runners.set(s.runners_online);
    ratio.set(s.warm_hit_ratio_24h ?? 0);
    res.type(registry.contentType).send(await registry.metrics());
  };

  return { measure, serve };
}
