// Shared pieces of the fuzz tests: each parser gets RUNS generated inputs (random bytes and text,
// and mutations of real recorded inputs) and may only return or throw an error it is allowed to
// throw; anything else (a TypeError, a RangeError from a buffer read out of bounds) is a crash.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fixture } from '../../../testkit/paths.js';

export const RUNS = 10_000;

/** What a parser may throw (a typed, expected error); by default nothing. */
export type Allowed = (err: unknown) => boolean;
export const nothing: Allowed = () => false;

/** Runs `parse` on RUNS inputs of `arb`; fails with the shrunk input on a throw that `allowed` rejects. */
export function fuzz<T>(arb: fc.Arbitrary<T>, parse: (input: T) => unknown, allowed: Allowed = nothing, runs = RUNS): void {
  fc.assert(fc.property(arb, (input) => {
    try {
      parse(input);
    } catch (err) {
      if (!allowed(err)) throw err;
    }
  }), { numRuns: runs });
}

/** async fuzz: the same, for parsers that read files. */
export async function fuzzAsync<T>(arb: fc.Arbitrary<T>, parse: (input: T) => Promise<unknown>, allowed: Allowed = nothing, runs = RUNS): Promise<void> {
  await fc.assert(fc.asyncProperty(arb, async (input) => {
    try {
      await parse(input);
    } catch (err) {
      if (!allowed(err)) throw err;
    }
  }), { numRuns: runs });
}

type Edit = [kind: number, at: number, byte: number, len: number];

function applyEdits(seed: Buffer, edits: Edit[]): Buffer {
  let b = Buffer.from(seed);
  for (const [kind, at, byte, len] of edits) {
    const i = b.length === 0 ? 0 : at % b.length;
    switch (kind) {
      case 0: if (b.length > 0) b[i] = byte; break; // replace a byte
      case 1: b = Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]); break; // insert
      case 2: b = Buffer.concat([b.subarray(0, i), b.subarray(i + len)]); break; // delete a run
      case 3: b = b.subarray(0, i); break; // cut the tail
      case 4: b = Buffer.concat([b.subarray(0, i), b.subarray(i, i + len), b.subarray(i)]); break; // repeat a run
      default: if (b.length > 0) b[i] = (b[i] ?? 0) ^ (1 << (byte % 8)); // flip a bit
    }
  }
  return b;
}

/** Mutations of real recorded inputs: bytes replaced, inserted, deleted, repeated, flipped, the tail cut. */
export function mutated(...seeds: Buffer[]): fc.Arbitrary<Buffer> {
  const edit = fc.tuple(fc.nat(5), fc.nat(), fc.nat(255), fc.integer({ min: 1, max: 64 }));
  return fc.tuple(fc.constantFrom(...seeds), fc.array(edit, { maxLength: 12 })).map(([seed, edits]) => applyEdits(seed, edits));
}

/** Bytes: random, or mutated seeds. */
export function bytes(...seeds: Buffer[]): fc.Arbitrary<Buffer> {
  const random = fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a));
  return seeds.length === 0 ? random : fc.oneof(random, mutated(...seeds), mutated(...seeds));
}

/** Text: random (any code points), or mutated seeds decoded as UTF-8. */
export function text(...seeds: Buffer[]): fc.Arbitrary<string> {
  return fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), bytes(...seeds).map((b) => b.toString('utf8')));
}

/** A recorded input under test/fixtures. */
export const recorded = (...parts: string[]): Buffer => readFileSync(fixture(...parts));
