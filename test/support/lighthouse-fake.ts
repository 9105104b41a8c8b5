/**
 * Lighthouse's upload API is unreachable here, so this local server speaks its
 * wire format for the one call the SDK makes (`POST /api/v0/add`, multipart
 * field "file", `Authorization: Bearer <key>`, answer `{ Name, Hash, Size }`),
 * and the real @lighthouse-web3/sdk is pointed at it. It answers like an IPFS
 * node: with `cid-version=1` a one-chunk file is a raw leaf (our own CID). It
 * also serves what it stored at `/ipfs/<cid>`, as Lighthouse's gateway would.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cidOfBytes } from '@trd/protocol';
import { unixfsCids } from '../../receipts/lighthouse.js';

export interface Upload {
  authorization: string | undefined;
  cidVersion: string | null;
  filename: string | null;
  bytes: Buffer;
  /** What the fake did with it. */
  answered: number | 'hung';
}

export interface LighthouseFake {
  url: string;
  uploads: Upload[];
  /** The next n uploads get this HTTP status (a 5xx is an outage). */
  failNext(n: number, status?: number): void;
  /** Every upload fails with 503 while down. */
  setDown(down: boolean): void;
  /** The next n uploads are read and never answered (the caller's attempt must time out). */
  hangNext(n: number): void;
  /** 'raw' is what Lighthouse does; the others test how a different answer is handled. */
  mode: 'raw' | 'unixfs-v0' | 'wrong';
  stop(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function fileFromMultipart(contentType: string | undefined, body: Buffer): { filename: string | null; bytes: Buffer } | null {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/.exec(contentType ?? '');
  if (!boundary) return null;
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const start = body.indexOf(delimiter);
  const headersEnd = body.indexOf('\r\n\r\n', start);
  const end = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd);
  if (start < 0 || headersEnd < 0 || end < 0) return null;
  const headers = body.subarray(start, headersEnd).toString('utf8');
  if (!/name="file"/.test(headers)) return null;
  return { filename: /filename="([^"]*)"/.exec(headers)?.[1] ?? null, bytes: body.subarray(headersEnd + 4, end) };
}

export async function startLighthouseFake(apiKey: string): Promise<LighthouseFake> {
  const stored = new Map<string, Buffer>();
  const hung: IncomingMessage[] = [];
  let failures: { n: number; status: number } = { n: 0, status: 502 };
  let down = false;
  let hangs = 0;

  const fake: LighthouseFake = {
    url: '',
    uploads: [],
    mode: 'raw',
    failNext: (n, status = 502) => (failures = { n, status }),
    setDown: (d) => (down = d),
    hangNext: (n) => (hangs = n),
    stop: async () => {
      for (const req of hung) req.socket.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (req.method === 'GET' && url.pathname.startsWith('/ipfs/')) {
      const bytes = stored.get(url.pathname.slice('/ipfs/'.length));
      if (!bytes) return json(404, { error: 'not found' });
      return res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes);
    }
    if (req.method !== 'POST' || url.pathname !== '/api/v0/add') return json(404, { error: `no route ${req.method} ${url.pathname}` });
    const body = await readBody(req);
    const file = fileFromMultipart(req.headers['content-type'], body);
    const upload: Upload = {
      authorization: req.headers.authorization,
      cidVersion: url.searchParams.get('cid-version'),
      filename: file?.filename ?? null,
      bytes: file?.bytes ?? Buffer.alloc(0),
      answered: 200,
    };
    fake.uploads.push(upload);
    if (hangs > 0) {
      hangs--;
      upload.answered = 'hung';
      hung.push(req);
      return;
    }
    if (down || failures.n > 0) {
      if (!down) failures.n--;
      upload.answered = down ? 503 : failures.status;
      return json(upload.answered, { error: 'upstream unavailable' });
    }
    if (req.headers.authorization !== `Bearer ${apiKey}`) return json((upload.answered = 401), { error: 'Unauthorized' });
    if (!file) return json((upload.answered = 400), { error: 'expected a multipart body with a "file" field' });
    const bytes = file.bytes;
    const [v0] = await unixfsCids(bytes);
    const hash =
      fake.mode === 'wrong'
        ? await cidOfBytes(Buffer.concat([bytes, Buffer.from('!')]))
        : fake.mode === 'unixfs-v0' || upload.cidVersion !== '1' || bytes.length > 262_144
          ? v0
          : await cidOfBytes(bytes);
    stored.set(hash, bytes);
    json(200, { Name: file.filename, Hash: hash, Size: String(bytes.length) });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
