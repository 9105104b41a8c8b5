import { describe, expect, test } from '@jest/globals';
import { canonicalize, canonicalizeInOrder, CanonicalJsonError } from '@trd/protocol';

describe('RFC 8785 canonical JSON', () => {
  test('sorts keys by UTF-16 code units at every depth and drops whitespace', () => {
    // RFC 8785 §3.2.3's sorting example: keys compare by UTF-16 code units, not code points.
    const input = { '\u20ac': 'Euro Sign', '\r': 'Carriage Return', '\ufb33': 'Hebrew Letter Dalet With Dagesh', '1': 'One', '\ud83d\ude00': 'Emoji: Grinning Face', '\u0080': 'Control', '\u00f6': 'Latin Small Letter O With Diaeresis' };
    // Compare the text: JSON.parse would move the integer-like key "1" first.
    const order = ['\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'];
    expect(canonicalize(input)).toBe(`{${order.map((k) => `${JSON.stringify(k)}:${JSON.stringify(input[k as keyof typeof input])}`).join(',')}}`);
    expect(canonicalize({ b: [3, { z: 1, a: 2 }], a: null })).toBe('{"a":null,"b":[3,{"a":2,"z":1}]}');
  });

  test('writes numbers in ECMAScript shortest form (RFC 8785 appendix B)', () => {
    const cases: Array<[number, string]> = [
      [0, '0'], [-0, '0'], [1e21, '1e+21'], [1e-7, '1e-7'], [0.000001, '0.000001'], [333333333.3333333, '333333333.3333333'],
      [9007199254740991, '9007199254740991'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
    ];
    for (const [n, s] of cases) expect(canonicalize(n)).toBe(s);
  });

  test('escapes strings as JSON does, keeping non-ASCII as is', () => {
    expect(canonicalize('\u0000\b\t\n\f\r"\\\u001f/é€😀')).toBe('"\\u0000\\b\\t\\n\\f\\r\\"\\\\\\u001f/é€😀"');
  });

  test('reproduces the RFC 8785 §3.2.2 sample', () => {
    const sample = JSON.parse('{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001], "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/", "literals": [null, true, false]}');
    expect(canonicalize(sample)).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}',
    );
  });

  test('refuses what JSON cannot carry, naming where', () => {
    expect(() => canonicalize({ a: [1, NaN] })).toThrow(new CanonicalJsonError('non-finite number', '$.a[1]'));
    expect(() => canonicalize({ a: Infinity })).toThrow(CanonicalJsonError);
    expect(() => canonicalize({ s: 'bad \ud800 surrogate' })).toThrow(/unpaired UTF-16 surrogate at \$\.s/);
    expect(() => canonicalize({ d: new Date(0) })).toThrow(/plain objects/);
    expect(() => canonicalize({ f: () => 1 })).toThrow(/function is not JSON/);
    expect(() => canonicalize(10n)).toThrow(/bigint is not JSON/);
  });

  test('the in-order fast path gives canonicalize\'s text for every input, and its error for a lone surrogate', () => {
    const cases: Array<Record<string, unknown>> = [
      JSON.parse(canonicalize({ v: 2, kid: 'k', seq: 3, prev: null, ok: true, n: -0, x: 1e21 })),
      // Out of order (bytes that were not canonical), integer-like keys, nesting, a paired surrogate, undefined.
      { b: 1, a: 2 },
      JSON.parse('{"10":1,"9":2}'),
      { a: { z: 1, y: 2 } },
      { a: [2, 1] },
      { a: '\ud83d\ude00', b: undefined },
      Object.assign(Object.create(null), { a: 1 }),
    ];
    for (const c of cases) expect(canonicalizeInOrder(c)).toBe(canonicalize(c));
    expect(() => canonicalizeInOrder({ a: '\ud800' })).toThrow(CanonicalJsonError);
    expect(() => canonicalizeInOrder({ a: Infinity })).toThrow(CanonicalJsonError);
    expect(() => canonicalizeInOrder({ a: new Date(0) })).toThrow(CanonicalJsonError);
  });
});
