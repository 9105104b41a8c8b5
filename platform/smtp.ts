/**
 * Sending one plain-text e-mail over SMTP (RFC 5321), for sign-in links: the
 * few commands that takes, over node:net, to the relay the platform is given
 * (a local MTA or the provider's relay on a private network). No TLS and no
 * AUTH: a relay that needs them sits behind a local MTA (see docs).
 */
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { hostname } from 'node:os';

export interface SmtpSettings {
  host: string;
  port: number;
  /** The From address (and the envelope sender). */
  from: string;
  /** One bound for connecting and for each reply. */
  timeoutMs: number;
}

export interface Mail {
  to: string;
  subject: string;
  /** ASCII lines; a line of "." is escaped as SMTP asks. */
  text: string;
}

/** A header or address may not carry a line break: that would let a value add headers or commands. */
function oneLine(value: string, what: string): string {
  if (/[\r\n]/.test(value)) throw new Error(`${what} may not contain a line break`);
  return value;
}

class Replies {
  private buffer = '';
  private waiting: ((line: string | Error) => void) | null = null;
  private lines: string[] = [];
  private failure: Error | null = null;

  constructor(socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        this.lines.push(this.buffer.slice(0, nl).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    const fail = (err: Error) => {
      this.failure ??= err;
      this.wake();
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the SMTP server closed the connection')));
  }

  private wake(): void {
    if (!this.waiting) return;
    const next = this.lines.length ? this.lines.shift()! : this.failure;
    if (next === null) return;
    const w = this.waiting;
    this.waiting = null;
    w(next);
  }

  private line(timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        reject(new Error(`the SMTP server did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (l) => {
        clearTimeout(timer);
        // typeof, not instanceof: a socket error comes from Node's own realm, which a test VM does not share.
        if (typeof l === 'string') resolve(l);
        else reject(l);
      };
      this.wake();
    });
  }

  /** One reply (its lines "250-..." up to "250 ..."); refuses any code but the expected ones. */
  async expect(codes: number[], after: string, timeoutMs: number): Promise<void> {
    const text: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      text.push(l.slice(4));
      if (!/^\d{3}-/.test(l)) {
        const code = Number(l.slice(0, 3));
        if (!codes.includes(code)) throw new Error(`the SMTP server refused ${after}: ${l.slice(0, 200)}`);
        return;
      }
    }
  }
}

export async function sendMail(s: SmtpSettings, mail: Mail): Promise<void> {
  const to = oneLine(mail.to, 'the recipient');
  const subject = oneLine(mail.subject, 'the subject');
  const socket = connect({ host: s.host, port: s.port });
  socket.setTimeout(s.timeoutMs, () => socket.destroy(new Error(`the SMTP connection to ${s.host}:${s.port} timed out after ${s.timeoutMs} ms`)));
  const replies = new Replies(socket);
  const say = async (command: string, codes: number[], what = command.split(/[ :]/)[0]!) => {
    socket.write(`${command}\r\n`);
    await replies.expect(codes, what, s.timeoutMs);
  };
  try {
    await replies.expect([220], 'the connection', s.timeoutMs);
    await say(`EHLO ${hostname().replace(/[^A-Za-z0-9.-]/g, '-') || 'localhost'}`, [250]);
    await say(`MAIL FROM:<${oneLine(s.from, 'the sender')}>`, [250]);
    await say(`RCPT TO:<${to}>`, [250, 251]);
    await say('DATA', [354]);
    const domain = s.from.split('@')[1] ?? 'localhost';
    const headers = [
      `From: ${s.from}`,
      `To: ${to}`,
      `Subject: ${subject}`,
      `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
      `Message-ID: <${randomBytes(12).toString('hex')}@${domain}>`,
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 8bit',
    ];
    // Dot-stuffing: a line starting with "." gets another, so the body cannot end the message early.
    const body = mail.text.split(/\r?\n/).map((l) => (l.startsWith('.') ? `.${l}` : l));
    await say(`${[...headers, '', ...body].join('\r\n')}\r\n.`, [250], 'the message');
    await say('QUIT', [221]).catch(() => {});
  } finally {
    socket.destroy();
  }
}
