/**
 * Published agents: the public list (GET /v1/agents, the /agents page) and
 * what a run of one is. `model: "agent:<slug>"` on /v1/chat/completions runs
 * the agent's published version: its model, its system prompt before the
 * caller's messages, its parameters. The job records which version ran
 * (agent_runs, in the job's own insert), so its receipt names the agent and
 * its manifest's hash, and its settlement pays the author's share.
 */
import { Router } from 'express';
import { AGENT_SLUG_PATTERN, agentSlugOf, type AgentManifest } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { ApiError } from './errors.js';

export interface PublishedAgent {
  slug: string;
  version: string;
  manifest: AgentManifest;
  manifestSha256: string;
  publishedAt: Date;
}

/** What a job that runs an agent records with itself. */
export interface AgentRunRecord {
  slug: string;
  version: string;
  manifestSha256: string;
  payoutAccount: string;
}

export async function publishedAgents(db: Db, slug?: string): Promise<PublishedAgent[]> {
  const agents = await db.agent.findMany({ where: { publishedVersion: { not: null }, ...(slug ? { slug } : {}) }, orderBy: { slug: 'asc' } });
  if (!agents.length) return [];
  const versions = await db.agentVersion.findMany({ where: { OR: agents.map((a) => ({ slug: a.slug, version: a.publishedVersion! })) } });
  return agents.map((a) => {
    const v = versions.find((x) => x.slug === a.slug && x.version === a.publishedVersion)!;
    return { slug: a.slug, version: v.version, manifest: v.manifest as unknown as AgentManifest, manifestSha256: v.manifestSha256, publishedAt: a.publishedAt! };
  });
}

/** The published agent a request's `model` names, null for a catalog model, a 404 for an agent nobody published. */
export async function agentForModel(db: Db, model: string): Promise<PublishedAgent | null> {
  const slug = agentSlugOf(model);
  if (slug === null) return null;
  const [agent] = AGENT_SLUG_PATTERN.test(slug) ? await publishedAgents(db, slug) : [];
  if (!agent) throw new ApiError(404, 'agent_not_found', `no published agent "${slug}" (GET /v1/agents lists them)`, 'model');
  return agent;
}

export function agentRunOf(agent: PublishedAgent): AgentRunRecord {
  return { slug: agent.slug, version: agent.version, manifestSha256: agent.manifestSha256, payoutAccount: agent.manifest.payout_account };
}

/** An agent as the public sees it (the payout account stays private). */
export function agentView(a: PublishedAgent) {
  const m = a.manifest;
  return {
    id: `agent:${a.slug}`,
    object: 'agent',
    slug: a.slug,
    version: a.version,
    name: m.name,
    description: m.description,
    author: m.author,
    model: m.model,
    parameters: m.parameters,
    input_schema: m.input_schema ?? null,
    manifest_sha256: a.manifestSha256,
    published_at: a.publishedAt.toISOString(),
  };
}

export function publicAgentsRouter(db: Db): Router {
  const router = Router();
  router.get('/v1/agents', async (_req, res) => {
    res.json({ object: 'list', data: (await publishedAgents(db)).map(agentView) });
  });
  router.get('/v1/agents/:slug', async (req, res) => {
    const [agent] = AGENT_SLUG_PATTERN.test(req.params.slug) ? await publishedAgents(db, req.params.slug) : [];
    if (!agent) throw new ApiError(404, 'agent_not_found', `no published agent "${req.params.slug}"`);
    res.json(agentView(agent));
  });
  return router;
}
