/** A session's chain as published: the document verify-web and auditors check (protocol/chain.ts). */
import type { PublishedKey, ReceiptChainDocument, SignedReceipt } from '@trd/protocol';
import type { Db } from '../platform/db.js';

export interface PublishedChain extends ReceiptChainDocument {
  /** Where each receipt is pinned, by CID: not part of what is verified, a pointer for fetching it elsewhere. */
  pins: Record<string, { provider: string; cid: string }[]>;
}

export function publishedKey(k: { kid: string; publicKeyPem: string; activatesAt: Date; retiredAt: Date | null }): PublishedKey {
  return { kid: k.kid, public_key_pem: k.publicKeyPem, valid_from: k.activatesAt.toISOString(), valid_until: k.retiredAt?.toISOString() ?? null };
}

export async function sessionChain(db: Db, sessionId: string): Promise<PublishedChain | null> {
  const session = await db.jobSession.findUnique({ where: { id: sessionId }, select: { id: true } });
  if (!session) return null;
  const rows = await db.receipt.findMany({ where: { sessionId }, orderBy: { seq: 'asc' }, select: { cid: true, kid: true, document: true } });
  const kids = [...new Set(rows.map((r) => r.kid))];
  const keys = await db.signingKey.findMany({ where: { kid: { in: kids } }, orderBy: { activatesAt: 'asc' } });
  const pinRows = await db.receiptPin.findMany({ where: { cid: { in: rows.map((r) => r.cid!) }, provider: { not: 'local' } } });
  const pins: PublishedChain['pins'] = {};
  for (const p of pinRows) (pins[p.cid] ??= []).push({ provider: p.provider, cid: p.providerCid });
  return {
    session_id: sessionId,
    head: rows.at(-1)?.cid ?? null,
    count: rows.length,
    receipts: rows.map((r) => ({ cid: r.cid!, receipt: r.document as unknown as SignedReceipt })),
    keys: keys.map(publishedKey),
    pins,
  };
}
