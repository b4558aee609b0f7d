/**
 * The digest of a record key in the cleaner's offset map: 128 bits from two HalfSipHash-1-3
 * instances with 64-bit outputs under independent 64-bit keys (HalfSipHash: Aumasson and
 * Bernstein's SipHash on 32-bit words, written here from its specification).
 *
 * Why a keyed hash: the map keeps a digest per key, never the key, and a record is dropped when a
 * later record's key has the same digest. With an unkeyed or merely seeded hash (murmur3 has
 * collisions that hold for every seed) a producer could write a key crafted to collide with
 * someone else's and have the cleaner drop that key's latest value. HalfSipHash is a PRF: under
 * a secret random key (drawn again for every clean) nobody can aim at a collision, and the two
 * 64-bit halves make a chance one negligible (Kafka's cleaner uses MD5 for the same 16 bytes).
 *
 * 32-bit words suit JavaScript's integer arithmetic: about 75 ns for a short key (both instances,
 * interleaved), where SipHash's 64-bit words, emulated with pairs of halves, took about 300. Everything stays in local
 * variables: a hash allocates nothing. The reference test vectors are for HalfSipHash-2-4.
 */

/** Two HalfSipHash-c-d-64 functions under one 16-byte key (8 bytes each). */
export class HalfSipHash128 {
  readonly #k0: number;
  readonly #k1: number;
  readonly #k2: number;
  readonly #k3: number;

  constructor(
    key: Uint8Array,
    readonly compressionRounds = 1,
    readonly finalizationRounds = 3,
  ) {
    if (key.length !== 16) throw new Error("the key is 16 bytes");
    this.#k0 = le32(key, 0);
    this.#k1 = le32(key, 4);
    this.#k2 = le32(key, 8);
    this.#k3 = le32(key, 12);
  }

  /**
   * Hashes `bytes[start..start+length)` into `out[at..at+4)`: words 0 and 1 are the first
   * instance's 8 output bytes (little-endian, low word first), words 2 and 3 the second's.
   *
   * The two instances run side by side in one pass (states a and b), each message word read once:
   * the two chains of rounds are independent, so the CPU overlaps them (about 1.6x faster than one
   * instance after the other).
   */
  hash(bytes: Uint8Array, start: number, length: number, out: Int32Array, at: number): void {
    const k0 = this.#k0;
    const k1 = this.#k1;
    const k2 = this.#k2;
    const k3 = this.#k3;
    let a0 = k0;
    let a1 = k1 ^ 0xee;
    let a2 = 0x6c796765 ^ k0;
    let a3 = 0x74656462 ^ k1;
    let b0 = k2;
    let b1 = k3 ^ 0xee;
    let b2 = 0x6c796765 ^ k2;
    let b3 = 0x74656462 ^ k3;
    const end = start + length;
    const whole = start + (length & ~3);
    const c = this.compressionRounds;
    for (let i = start; i <= whole; i += 4) {
      let m: number;
      if (i < whole) {
        m = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
      } else {
        // The last word: the bytes left, and the length's low byte at the top.
        m = (length & 0xff) << 24;
        const left = end - i;
        if (left === 3) m |= bytes[i + 2] << 16;
        if (left >= 2) m |= bytes[i + 1] << 8;
        if (left >= 1) m |= bytes[i];
      }
      a3 ^= m;
      b3 ^= m;
      for (let r = 0; r < c; r++) {
        a0 = (a0 + a1) | 0;
        a1 = ((a1 << 5) | (a1 >>> 27)) ^ a0;
        a0 = (a0 << 16) | (a0 >>> 16);
        a2 = (a2 + a3) | 0;
        a3 = ((a3 << 8) | (a3 >>> 24)) ^ a2;
        a0 = (a0 + a3) | 0;
        a3 = ((a3 << 7) | (a3 >>> 25)) ^ a0;
        a2 = (a2 + a1) | 0;
        a1 = ((a1 << 13) | (a1 >>> 19)) ^ a2;
        a2 = (a2 << 16) | (a2 >>> 16);
        b0 = (b0 + b1) | 0;
        b1 = ((b1 << 5) | (b1 >>> 27)) ^ b0;
        b0 = (b0 << 16) | (b0 >>> 16);
        b2 = (b2 + b3) | 0;
        b3 = ((b3 << 8) | (b3 >>> 24)) ^ b2;
        b0 = (b0 + b3) | 0;
        b3 = ((b3 << 7) | (b3 >>> 25)) ^ b0;
        b2 = (b2 + b1) | 0;
        b1 = ((b1 << 13) | (b1 >>> 19)) ^ b2;
        b2 = (b2 << 16) | (b2 >>> 16);
      }
      a0 ^= m;
      b0 ^= m;
    }
    a2 ^= 0xee;
    b2 ^= 0xee;
    const d = this.finalizationRounds;
    for (let word = 0; word < 2; word++) {
      if (word === 1) {
        a1 ^= 0xdd;
        b1 ^= 0xdd;
      }
      for (let r = 0; r < d; r++) {
        a0 = (a0 + a1) | 0;
        a1 = ((a1 << 5) | (a1 >>> 27)) ^ a0;
        a0 = (a0 << 16) | (a0 >>> 16);
        a2 = (a2 + a3) | 0;
        a3 = ((a3 << 8) | (a3 >>> 24)) ^ a2;
        a0 = (a0 + a3) | 0;
        a3 = ((a3 << 7) | (a3 >>> 25)) ^ a0;
        a2 = (a2 + a1) | 0;
        a1 = ((a1 << 13) | (a1 >>> 19)) ^ a2;
        a2 = (a2 << 16) | (a2 >>> 16);
        b0 = (b0 + b1) | 0;
        b1 = ((b1 << 5) | (b1 >>> 27)) ^ b0;
        b0 = (b0 << 16) | (b0 >>> 16);
        b2 = (b2 + b3) | 0;
        b3 = ((b3 << 8) | (b3 >>> 24)) ^ b2;
        b0 = (b0 + b3) | 0;
        b3 = ((b3 << 7) | (b3 >>> 25)) ^ b0;
        b2 = (b2 + b1) | 0;
        b1 = ((b1 << 13) | (b1 >>> 19)) ^ b2;
        b2 = (b2 << 16) | (b2 >>> 16);
      }
      out[at + word] = a1 ^ a3;
      out[at + 2 + word] = b1 ^ b3;
    }
  }
}

function le32(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
}
