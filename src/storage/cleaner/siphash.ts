/**
 * SipHash with a 128-bit output (Aumasson and Bernstein's reference algorithm, written here from
 * its specification), the digest of a record key in the cleaner's offset map.
 *
 * Why a keyed hash: the map keeps a digest per key, never the key, and a record is dropped when a
 * later record's key has the same digest. With an unkeyed or merely seeded hash (murmur3 has
 * collisions that hold for every seed) a producer could write a key crafted to collide with
 * someone else's and have the cleaner drop that key's latest value. SipHash is a PRF: with a
 * secret random key per process nobody can aim at a collision, and 128 bits make a chance one
 * negligible (Kafka's cleaner uses MD5 for the same 16 bytes).
 *
 * 64-bit words are kept as pairs of 32-bit halves (hi, lo), all in local variables: a hash
 * allocates nothing. SipHash-1-3 (one compression round, three finalization rounds: what Rust's
 * standard HashMap uses) by default; the reference test vectors are for SipHash-2-4.
 */

/** A SipHash-c-d-128 function under one 16-byte key. */
export class SipHash128 {
  readonly #k0h: number;
  readonly #k0l: number;
  readonly #k1h: number;
  readonly #k1l: number;

  constructor(
    key: Uint8Array,
    readonly compressionRounds = 1,
    readonly finalizationRounds = 3,
  ) {
    if (key.length !== 16) throw new Error("a SipHash key is 16 bytes");
    this.#k0l = le32(key, 0);
    this.#k0h = le32(key, 4);
    this.#k1l = le32(key, 8);
    this.#k1h = le32(key, 12);
  }

  /**
   * Hashes `bytes[start..start+length)` into `out[at..at+4)` as four 32-bit words: the first
   * 8 output bytes (little-endian) are words 0 (low) and 1 (high), the last 8 words 2 and 3.
   */
  hash(bytes: Uint8Array, start: number, length: number, out: Int32Array, at: number): void {
    let v0h = 0x736f6d65 ^ this.#k0h;
    let v0l = 0x70736575 ^ this.#k0l;
    let v1h = 0x646f7261 ^ this.#k1h;
    let v1l = 0x6e646f6d ^ this.#k1l ^ 0xee;
    let v2h = 0x6c796765 ^ this.#k0h;
    let v2l = 0x6e657261 ^ this.#k0l;
    let v3h = 0x74656462 ^ this.#k1h;
    let v3l = 0x79746573 ^ this.#k1l;
    let s = 0;
    let t = 0;
    const c = this.compressionRounds;
    const end = start + length;
    const whole = start + (length & ~7);
    for (let i = start; i <= whole; i += 8) {
      let mh: number;
      let ml: number;
      if (i < whole) {
        ml = le32(bytes, i);
        mh = le32(bytes, i + 4);
      } else {
        // The last block: the bytes left, and the length's low byte at the top.
        ml = 0;
        mh = (length & 0xff) << 24;
        for (let j = 0; i + j < end; j++) {
          if (j < 4) ml |= bytes[i + j] << (8 * j);
          else mh |= bytes[i + j] << (8 * (j - 4));
        }
      }
      v3h ^= mh;
      v3l ^= ml;
      for (let r = 0; r < c; r++) {
        // v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
        s = (v0l >>> 0) + (v1l >>> 0);
        v0h = (v0h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
        v0l = s | 0;
        t = (v1h << 13) | (v1l >>> 19);
        v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
        v1h = t ^ v0h;
        t = v0h;
        v0h = v0l;
        v0l = t;
        // v2 += v3; v3 <<<= 16; v3 ^= v2
        s = (v2l >>> 0) + (v3l >>> 0);
        v2h = (v2h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
        v2l = s | 0;
        t = (v3h << 16) | (v3l >>> 16);
        v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
        v3h = t ^ v2h;
        // v0 += v3; v3 <<<= 21; v3 ^= v0
        s = (v0l >>> 0) + (v3l >>> 0);
        v0h = (v0h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
        v0l = s | 0;
        t = (v3h << 21) | (v3l >>> 11);
        v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
        v3h = t ^ v0h;
        // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
        s = (v2l >>> 0) + (v1l >>> 0);
        v2h = (v2h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
        v2l = s | 0;
        t = (v1h << 17) | (v1l >>> 15);
        v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
        v1h = t ^ v2h;
        t = v2h;
        v2h = v2l;
        v2l = t;
      }
      v0h ^= mh;
      v0l ^= ml;
    }
    v2l ^= 0xee;
    for (let half = 0; half < 2; half++) {
      if (half === 1) v1l ^= 0xdd;
      for (let r = 0; r < this.finalizationRounds; r++) {
        s = (v0l >>> 0) + (v1l >>> 0);
        v0h = (v0h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
        v0l = s | 0;
        t = (v1h << 13) | (v1l >>> 19);
        v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
        v1h = t ^ v0h;
        t = v0h;
        v0h = v0l;
        v0l = t;
        s = (v2l >>> 0) + (v3l >>> 0);
        v2h = (v2h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
        v2l = s | 0;
        t = (v3h << 16) | (v3l >>> 16);
        v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
        v3h = t ^ v2h;
        s = (v0l >>> 0) + (v3l >>> 0);
        v0h = (v0h + v3h + (s > 0xffffffff ? 1 : 0)) | 0;
        v0l = s | 0;
        t = (v3h << 21) | (v3l >>> 11);
        v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
        v3h = t ^ v0h;
        s = (v2l >>> 0) + (v1l >>> 0);
        v2h = (v2h + v1h + (s > 0xffffffff ? 1 : 0)) | 0;
        v2l = s | 0;
        t = (v1h << 17) | (v1l >>> 15);
        v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
        v1h = t ^ v2h;
        t = v2h;
        v2h = v2l;
        v2l = t;
      }
      out[at + 2 * half] = v0l ^ v1l ^ v2l ^ v3l;
      out[at + 2 * half + 1] = v0h ^ v1h ^ v2h ^ v3h;
    }
  }
}

function le32(bytes: Uint8Array, at: number): number {
  return bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24);
}
