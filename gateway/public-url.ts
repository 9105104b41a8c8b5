/**
 * The gateway's address as customers reach it, for the URLs it hands out
 * (verification links, certificate QR codes, Stripe return URLs): the
 * configured TRD_PUBLIC_URL, or else the request's own scheme and host, which
 * honour X-Forwarded-Proto / X-Forwarded-Host only from a trusted proxy
 * (TRD_TRUST_PROXY).
 */
import type { Request } from 'express';

export function publicBase(req: Request, publicUrl: string | null): string {
  return (publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/+$/, '');
}

/** Whether customers reach the gateway over https (the session cookie is then `Secure`). */
export function servedOverHttps(req: Request, publicUrl: string | null): boolean {
  return publicUrl ? publicUrl.startsWith('https://') : req.secure;
}

/**
 * Express's `trust proxy` from TRD_TRUST_PROXY: empty (trust no proxy: the socket's peer is the
 * client), a hop count ("1"), or addresses and subnets ("loopback", "10.0.0.0/8,127.0.0.1").
 */
export function trustProxyValue(raw: string | undefined): number | string | false {
  const v = raw?.trim() ?? '';
  if (!v || v === 'false' || v === '0') return false;
  return /^\d+$/.test(v) ? Number(v) : v;
}
