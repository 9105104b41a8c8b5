/**
 * Pinning to Filecoin through Lighthouse, with the real SDK.
 *
 * The SDK uploads with `cid-version=1`, and an IPFS node adds a file of one
 * chunk (up to 256 KiB; a receipt is about 1 KiB) as a raw leaf: the CID it
 * returns is then our own receipt CID. Anything else (a UnixFS-wrapped CID,
 * v0 or v1) still names these bytes as a file, so it is recorded beside ours
 * and said to be that; a CID that names other bytes is refused, not recorded.
 */
import * as dagPB from '@ipld/dag-pb';
import { UnixFS } from 'ipfs-unixfs';
import { CID } from 'multiformats/cid';
import { sha256 } from 'multiformats/hashes/sha2';

export interface LighthousePin {
  providerCid: string;
  /** How the provider's CID relates to ours, for the record. */
  detail: string;
}

export class CidMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CidMismatchError';
  }
}

type Sdk = { uploadBuffer: (buffer: unknown, apiKey: string, options?: { cidVersion?: number }) => Promise<{ data: { Hash?: unknown } }> };

let sdk: Promise<Sdk> | null = null;

/**
 * Loads the SDK before the worker takes activities: it pulls in ethers (0.3 s here when idle, seconds on a loaded
 * machine), and loaded by the first pin it ate that attempt's bound, so an upload Lighthouse had answered was sent
 * again by the retry (seen on a loaded CI machine). Only an orchestrator that pins loads it.
 */
export async function preloadLighthouseSdk(nodeUrl: string | null): Promise<void> {
  await lighthouseSdk(nodeUrl);
}

async function lighthouseSdk(nodeUrl: string | null): Promise<Sdk> {
  sdk ??= import('@lighthouse-web3/sdk').then((m) => (m.default ?? m) as unknown as Sdk);
  const loaded = await sdk;
  if (nodeUrl) {
    // The SDK has no option or variable for its node; it reads this exported config on every call.
    const config = (await import('@lighthouse-web3/sdk/dist/lighthouse.config.js' as string)) as { lighthouseConfig?: { lighthouseNode: string }; default?: { lighthouseConfig: { lighthouseNode: string } } };
    const target = config.lighthouseConfig ?? config.default?.lighthouseConfig;
    if (!target) throw new Error('@lighthouse-web3/sdk no longer exports lighthouseConfig; TRD_LIGHTHOUSE_URL cannot be applied');
    target.lighthouseNode = nodeUrl.replace(/\/+$/, '');
  }
  return loaded;
}

/** The CIDs `ipfs add` gives one-chunk bytes as a UnixFS file (dag-pb, v0 and v1). */
export async function unixfsCids(bytes: Uint8Array): Promise<string[]> {
  const node = dagPB.encode(dagPB.prepare({ Data: new UnixFS({ type: 'file', data: bytes }).marshal(), Links: [] }));
  const digest = await sha256.digest(node);
  return [CID.createV0(digest).toString(), CID.createV1(dagPB.code, digest).toString()];
}

export async function pinToLighthouse(bytes: Uint8Array, ourCid: string, apiKey: string, nodeUrl: string | null): Promise<LighthousePin> {
  const lighthouse = await lighthouseSdk(nodeUrl);
  // The SDK throws a plain Error for any non-2xx answer and for unreachable hosts: all worth retrying.
  const res = await lighthouse.uploadBuffer(Buffer.from(bytes), apiKey, { cidVersion: 1 });
  const hash = res?.data?.Hash;
  if (typeof hash !== 'string' || !hash) throw new Error(`Lighthouse answered without a CID: ${JSON.stringify(res?.data).slice(0, 200)}`);
  let theirs: string;
  try {
    theirs = CID.parse(hash).toV1().toString() === CID.parse(ourCid).toString() ? ourCid : hash;
  } catch {
    throw new CidMismatchError(`Lighthouse returned ${JSON.stringify(hash.slice(0, 100))}, which is not a CID`);
  }
  if (theirs === ourCid) return { providerCid: ourCid, detail: 'same CID: the raw block' };
  if ((await unixfsCids(bytes)).includes(hash)) {
    return { providerCid: hash, detail: `pinned as a UnixFS file under ${hash}; IPFS gateways serve these exact bytes there, and ${ourCid} is their raw-block CID` };
  }
  throw new CidMismatchError(`Lighthouse returned ${hash}, which names neither these bytes (${ourCid}) nor a UnixFS file of them`);
}
