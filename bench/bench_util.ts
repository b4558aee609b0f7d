/**
 * Helpers shared by the benches: deterministic pseudo-random numbers and bytes (xorshift32), so
 * every run measures the same input. Generation is setup, never inside a timed section.
 */

/** xorshift32: a seeded PRNG returning uint32 values (seed 0 counts as 1, which xorshift needs). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** The same xorshift32 sequence as xorshift32(seed), scaled to floats in [0, 1). */
export function xorshiftFloat(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 0x1_0000_0000;
}

/**
 * `length` bytes, each the low byte of one xorshift32(seed) value: incompressible (no codec
 * shortcut recognises them), and the same on every run for a given seed. The step is written out
 * rather than calling xorshift32(): about twice as fast, which matters for the larger buffers.
 */
export function randomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
