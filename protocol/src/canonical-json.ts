/**
 * RFC 8785 (JSON Canonicalization Scheme) serialization.
 *
 * Receipts are signed over these bytes, so any party can rebuild them from the
 * parsed document: keys sorted by UTF-16 code units, no whitespace, numbers in
 * ECMAScript's shortest round-trip form (which is what JSON.stringify emits for
 * finite numbers), strings escaped as JSON.stringify escapes them.
 */
export class CanonicalJsonError extends Error {
  constructor(message: string, readonly path: string) {
    super(`${message} at ${path || '$'}`);
    this.name = 'CanonicalJsonError';
  }
}

export function canonicalize(value: unknown): string {
  return serialize(value, '$');
}

export function canonicalBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(canonicalize(value));
}

/**
 * The canonical text of a flat object (string, finite number, boolean or null
 * values) whose keys are already in canonical order: JSON.stringify then
 * writes exactly RFC 8785's bytes, natively, so a receipt envelope parsed from
 * the canonical bytes it was served as is checked and rebuilt in one native
 * call instead of a sort and a serialize per value (the verifier's largest JS
 * cost on a 10,000-receipt chain). Anything else, such as keys out of order
 * (bytes that were not canonical) or a string with a surrogate, goes through
 * canonicalize, so the answer is always canonicalize's.
 */
export function canonicalizeInOrder(value: Record<string, unknown>): string {
  let before = '';
  let first = true;
  for (const key in value) {
    if (!Object.prototype.hasOwnProperty.call(value, key)) return canonicalize(value);
    if (!first && !(before < key)) return canonicalize(value);
    first = false;
    before = key;
    const v = value[key];
    const type = typeof v;
    if (type === 'string') {
      if (ANY_SURROGATE.test(v as string)) return canonicalize(value);
    } else if (type === 'number') {
      if (!Number.isFinite(v)) return canonicalize(value);
    } else if (v !== null && type !== 'boolean') {
      return canonicalize(value);
    }
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return canonicalize(value);
  return JSON.stringify(value);
}

const ANY_SURROGATE = /[\uD800-\uDFFF]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function serialize(value: unknown, path: string): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new CanonicalJsonError('non-finite number', path);
      return JSON.stringify(value);
    case 'string':
      // I-JSON (which RFC 8785 requires) forbids unpaired surrogates. The cheap test first: the verifier canonicalizes 10,000s of receipts.
      if (ANY_SURROGATE.test(value) && LONE_SURROGATE.test(value)) throw new CanonicalJsonError('unpaired UTF-16 surrogate', path);
      return JSON.stringify(value);
    case 'object': {
      if (Array.isArray(value)) {
        return `[${value.map((item, i) => serialize(item, `${path}[${i}]`)).join(',')}]`;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new CanonicalJsonError('only plain objects can be canonicalized', path);
      }
      const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
      // Default sort compares UTF-16 code units, exactly what RFC 8785 §3.2.3 asks.
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      return `{${entries
        .map(([k, v]) => `${serialize(k, path)}:${serialize(v, `${path}.${k}`)}`)
        .join(',')}}`;
    }
    default:
      throw new CanonicalJsonError(`${typeof value} is not JSON`, path);
  }
}
