/**
 * The local content store over HTTP, the way a trustless IPFS gateway serves
 * raw blocks: `GET /ipfs/<cid>` answers the block's exact bytes, so a client
 * checks them against the CID and trusts nothing else. Receipt CIDs use the
 * raw codec, so the block is the signed receipt document itself.
 */
import { Router } from 'express';
import { isRawSha256Cid, parseCid } from '@trd/protocol';
import type { Db } from '../platform/db.js';
import { getBlock } from '../receipts/content-store.js';
import { ApiError } from './errors.js';
import { CidParams, IpfsQuery } from './schemas.js';

const RAW_BLOCK = 'application/vnd.ipld.raw';

export function ipfsRouter(db: Db): Router {
  const router = Router();
  router.get('/ipfs/:cid', async (req, res) => {
    // The documented forms (CidParams, IpfsQuery) first; a text of the right form can still fail to parse.
    const text = CidParams.safeParse(req.params);
    let cid;
    try {
      if (!text.success) throw new Error(text.error.issues[0]!.message);
      cid = parseCid(text.data.cid);
    } catch (err) {
      throw new ApiError(400, 'invalid_cid', (err as Error).message, 'cid');
    }
    const query = IpfsQuery.safeParse(req.query);
    if (!query.success) throw new ApiError(400, 'unsupported_format', `only ?format=raw is served here (got ${JSON.stringify(req.query.format)})`, 'format');
    const format = query.data.format;
    if (!isRawSha256Cid(cid)) throw new ApiError(404, 'block_not_found', 'this store holds receipts only: raw-codec, sha2-256 CIDs', 'cid');
    // A CID written in another base or version names the same block.
    const key = cid.toV1().toString();
    const bytes = await getBlock(db, key);
    if (!bytes) throw new ApiError(404, 'block_not_found', `no block ${key} here`, 'cid');
    const wantsRaw = format === 'raw' || (req.get('accept') ?? '').includes(RAW_BLOCK);
    res
      .set({
        'content-type': wantsRaw ? RAW_BLOCK : 'application/json',
        'x-ipfs-path': `/ipfs/${req.params.cid}`,
        'x-content-type-options': 'nosniff',
        etag: `"${key}.raw"`,
        'cache-control': 'public, max-age=29030400, immutable',
        'access-control-allow-origin': '*',
      })
      .send(Buffer.from(bytes));
  });
  return router;
}
