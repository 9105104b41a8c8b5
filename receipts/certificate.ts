/**
 * A session's certificate (PDF): what ran, the chain head that seals it, and
 * a QR code to the verify page for the session, where anyone checks every
 * receipt without trusting us. The PDF states; the chain proves.
 */
import PDFDocument from 'pdfkit';
import QRCode from 'qrcode';
import type { Db } from '../platform/db.js';

export interface SessionStats {
  sessionId: string;
  jobs: number;
  completed: number;
  failed: number;
  cancelled: number;
  /** Attempts that did not give the accepted result: invalid results, and moves to a faster runner. */
  requeued: number;
  tokens: number;
  generationMs: number;
  models: string[];
  workers: string[];
  firstAcceptedAt: Date | null;
  lastFinishedAt: Date | null;
  head: string | null;
  receipts: number;
}

export async function sessionStats(db: Db, sessionId: string): Promise<SessionStats | null> {
  const session = await db.jobSession.findUnique({ where: { id: sessionId } });
  if (!session) return null;
  const jobs = await db.job.findMany({
    where: { sessionId },
    select: { status: true, promptTokens: true, completionTokens: true, generationMs: true, model: true, workerId: true, acceptedAt: true, finishedAt: true },
  });
  const requeued = await db.jobAttempt.count({ where: { job: { sessionId } } });
  const count = (status: string) => jobs.filter((j) => j.status === status).length;
  const finished = jobs.map((j) => j.finishedAt).filter((d): d is Date => d !== null);
  return {
    sessionId,
    jobs: jobs.length,
    completed: count('succeeded'),
    failed: count('failed'),
    cancelled: count('cancelled'),
    requeued,
    tokens: jobs.reduce((n, j) => n + (j.promptTokens ?? 0) + (j.completionTokens ?? 0), 0),
    generationMs: jobs.reduce((n, j) => n + (j.generationMs ?? 0), 0),
    models: [...new Set(jobs.map((j) => j.model))].sort(),
    workers: [...new Set(jobs.map((j) => j.workerId).filter((w): w is string => w !== null))].sort(),
    firstAcceptedAt: jobs.length ? new Date(Math.min(...jobs.map((j) => j.acceptedAt.getTime()))) : null,
    lastFinishedAt: finished.length ? new Date(Math.max(...finished.map((d) => d.getTime()))) : null,
    head: session.headCid,
    receipts: session.receiptCount,
  };
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 120 ? `${m} min ${Math.round(s % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

const iso = (d: Date | null) => (d ? d.toISOString().replace('T', ' ').replace(/\.\d{3}Z$/, ' UTC') : '—');

export async function certificatePdf(stats: SessionStats, verifyUrl: string, issuedAt: Date): Promise<Buffer> {
  const qr = await QRCode.toBuffer(verifyUrl, { type: 'png', errorCorrectionLevel: 'M', margin: 2, scale: 6 });
  const doc = new PDFDocument({ size: 'A4', margin: 50, info: { Title: `TRD Compute session certificate: ${stats.sessionId}`, Author: 'TRD Compute' } });
  const chunks: Buffer[] = [];
  doc.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<Buffer>((resolve, reject) => {
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
  });

  const left = 50;
  const width = doc.page.width - 100;
  doc.font('Helvetica-Bold').fontSize(20).fillColor('#1b1f24').text('TRD Compute session certificate', left, 50);
  doc.font('Helvetica').fontSize(11).fillColor('#57606a').text(`Session ${stats.sessionId} · issued ${iso(issuedAt)}`, left, 78);

  // The stats grid: three columns, two rows.
  const cells: [string, string][] = [
    ['Jobs', stats.jobs.toLocaleString('en-US')],
    ['Tokens', stats.tokens.toLocaleString('en-US')],
    ['Total duration', duration(stats.generationMs)],
    ['Models', stats.models.join(', ') || '—'],
    ['Workers', String(stats.workers.length)],
    ['Time span', stats.firstAcceptedAt && stats.lastFinishedAt ? duration(stats.lastFinishedAt.getTime() - stats.firstAcceptedAt.getTime()) : '—'],
  ];
  const cellW = width / 3;
  const cellH = 58;
  const gridTop = 110;
  cells.forEach(([label, value], i) => {
    const x = left + (i % 3) * cellW;
    const y = gridTop + Math.floor(i / 3) * cellH;
    doc.rect(x + 2, y + 2, cellW - 4, cellH - 4).fillAndStroke('#f6f8fa', '#d0d7de');
    doc.fillColor('#57606a').font('Helvetica').fontSize(9).text(label.toUpperCase(), x + 12, y + 12, { width: cellW - 24 });
    doc.fillColor('#1b1f24').font('Helvetica-Bold').fontSize(15).text(value, x + 12, y + 28, { width: cellW - 24, lineBreak: false, ellipsis: true });
  });
  doc.fillColor('#57606a').font('Helvetica').fontSize(9).text(`From ${iso(stats.firstAcceptedAt)} to ${iso(stats.lastFinishedAt)}`, left, gridTop + 2 * cellH + 6);

  let y = gridTop + 2 * cellH + 34;
  doc.fillColor('#1b1f24').font('Helvetica-Bold').fontSize(13).text('Receipt chain', left, y);
  y += 20;
  doc.font('Helvetica').fontSize(10).text(`${stats.receipts.toLocaleString('en-US')} signed receipts, each naming the CID of the one before it. Chain head:`, left, y, { width });
  y += 16;
  doc.font('Courier').fontSize(10).text(stats.head ?? '(no receipts yet)', left, y, { width });

  y += 34;
  doc.font('Helvetica-Bold').fontSize(13).text('Events', left, y);
  y += 20;
  const events: [string, number][] = [
    ['Completed', stats.completed],
    ['Re-queued', stats.requeued],
    ['Failed', stats.failed],
    ['Cancelled', stats.cancelled],
  ];
  for (const [label, n] of events) {
    doc.font('Helvetica').fontSize(11).fillColor('#1b1f24').text(label, left, y, { width: 160 });
    doc.text(n.toLocaleString('en-US'), left + 160, y, { width: 80, align: 'right' });
    y += 17;
  }

  y += 20;
  doc.image(qr, left, y, { width: 130 });
  doc.font('Helvetica-Bold').fontSize(12).text('Verify it yourself', left + 150, y + 10);
  doc.font('Helvetica').fontSize(10).fillColor('#57606a').text(
    'Scan the code or open the address below. The page fetches the chain and checks every signature, CID and link in your browser; it does not trust this document or our servers.',
    left + 150,
    y + 30,
    { width: width - 150 },
  );
  doc.font('Courier').fontSize(8).fillColor('#1b1f24').text(verifyUrl, left + 150, y + 92, { width: width - 150 });
  doc.end();
  return done;
}
