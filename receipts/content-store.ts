/** The local content store: receipt documents by CID, in PostgreSQL. Writes are idempotent (a CID names its bytes). */
import { cidOfBytes, receiptDocumentBytes, type SignedReceipt } from '@trd/protocol';
import type { Db } from '../platform/db.js';

type Tx = Pick<Db, 'contentBlock'>;

/** Stores a signed receipt's canonical bytes under their CID, and returns the CID. */
export async function putReceiptBlock(db: Tx, receipt: SignedReceipt): Promise<{ cid: string; bytes: Uint8Array }> {
  const bytes = receiptDocumentBytes(receipt);
  const cid = await cidOfBytes(bytes);
  await db.contentBlock.createMany({ data: [{ cid, bytes: Buffer.from(bytes) }], skipDuplicates: true });
  return { cid, bytes };
}

export async function getBlock(db: Tx, cid: string): Promise<Uint8Array | null> {
  const block = await db.contentBlock.findUnique({ where: { cid } });
  return block ? new Uint8Array(block.bytes) : null;
}
