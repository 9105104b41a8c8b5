/**
 * How hard the fuzz tests push: TRD_FUZZ_RUNS scales every property's number
 * of runs (CI keeps the default, so all of test/fuzz stays under a minute on
 * two cores), TRD_FUZZ_SEED fixes the random source. A failure names both,
 * so the same inputs can be generated again.
 */
import fc from 'fast-check';

function envInt(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw)) throw new Error(`${name} must be a whole number, not ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** Runs per property at scale 1. */
export const FUZZ_RUNS = envInt('TRD_FUZZ_RUNS', 100);
/** Fixed by default: CI explores the same inputs on every run; set it to explore others. */
export const FUZZ_SEED = envInt('TRD_FUZZ_SEED', 20261126);

/** Checks a property with the shared seed; `scale` shares the run budget out (an HTTP property costs more than a pure one). */
export async function fuzz<Ts>(property: fc.IAsyncProperty<Ts> | fc.IProperty<Ts>, scale = 1): Promise<void> {
  const numRuns = Math.max(1, Math.round(FUZZ_RUNS * scale));
  try {
    await fc.assert(property as fc.IAsyncProperty<Ts>, { seed: FUZZ_SEED, numRuns, endOnFailure: true });
  } catch (err) {
    (err as Error).message = `replay with TRD_FUZZ_SEED=${FUZZ_SEED} TRD_FUZZ_RUNS=${FUZZ_RUNS}\n${(err as Error).message}`;
    throw err;
  }
}

/** Strings that break naive parsers: huge, control characters, lone surrogates, number-like words, path tricks. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.string(),
  fc.fullUnicodeString(),
  fc.constantFrom('', ' ', 'NaN', 'Infinity', '-Infinity', '-0', '1e309', '0x10', '1_000', 'null', 'undefined', 'true', '[]', '{}', '__proto__', 'constructor', 'prototype', '\u0000', '\ud800', '\udfff', '💥', '../../etc/passwd', '%00', '%', 'a'.repeat(10_000), '<script>', "'; DROP TABLE jobs; --"),
  fc.string({ minLength: 1000, maxLength: 5000 }),
);

/** Numbers an integer field must refuse or bound: negative, fractional, huge, unsafe. */
export const hostileNumber: fc.Arbitrary<number> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
  fc.constantFrom(-1, 0, 0.5, -0, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 2 ** 31, 2 ** 32, 2 ** 64, Number.MIN_VALUE, Number.EPSILON),
);

/** Any JSON value, with hostile leaves and prototype-pollution keys among the ordinary ones. */
export const hostileJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    hostileString,
    hostileNumber,
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty')), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A JSON text nested `depth` deep, e.g. [[[[...]]]] or {"a":{"a":...}}. */
export function deeplyNested(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}
