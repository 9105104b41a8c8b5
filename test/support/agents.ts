/** Agents and accounts for marketplace tests: published directly in the database (the review workflow has its own tests). */
import { randomUUID } from 'node:crypto';
import { checkManifest, manifestSha256, type AgentManifest } from '@trd/protocol';
import { createApiKey, createCustomer } from '../../gateway/api-keys.js';
import type { Db } from '../../platform/db.js';

export async function newAccount(db: Db, name: string): Promise<{ id: string; key: string }> {
  const id = await createCustomer(db, name);
  return { id, key: await createApiKey(db, id, `${name} key`) };
}

/** A valid manifest on trd-tiny paying `payoutAccount`, with any field replaced. */
export function manifestFor(payoutAccount: string, over: Partial<AgentManifest> = {}): AgentManifest {
  return {
    slug: 'haiku-bot',
    version: '1.0.0',
    name: 'Haiku bot',
    description: 'Answers every question with a haiku.',
    author: 'Test Author',
    model: 'trd-tiny',
    system_prompt: 'You answer in haiku.',
    parameters: { temperature: 0, max_tokens: 12, stop: [] },
    payout_account: payoutAccount,
    ...over,
  };
}

/** Publishes the manifest as if a review had approved it; returns its hash. */
export async function publishAgent(db: Db, authorId: string, raw: AgentManifest): Promise<string> {
  const check = checkManifest(raw);
  if (!check.ok) throw new Error(check.errors.join('; '));
  const m = check.manifest;
  const sha = await manifestSha256(m);
  const submissionId = `sub_${randomUUID().replace(/-/g, '')}`;
  await db.$transaction(async (tx) => {
    await tx.agent.create({ data: { slug: m.slug, authorId } });
    await tx.agentSubmission.create({ data: { id: submissionId, slug: m.slug, authorId, status: 'approved', currentVersion: m.version } });
    await tx.agentVersion.create({ data: { slug: m.slug, version: m.version, submissionId, manifest: m as object, manifestSha256: sha } });
    await tx.agent.update({ where: { slug: m.slug }, data: { publishedVersion: m.version, publishedAt: new Date() } });
  });
  return sha;
}
