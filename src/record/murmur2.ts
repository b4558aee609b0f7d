/**
 * Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), the hash behind the default
 * partitioner: a keyed record must land on the partition a Java producer would pick, or consumers
 * that rely on per-key ordering across mixed clients see one key split over two partitions.
 *
 * Java's int arithmetic wraps at 32 bits; here `Math.imul` gives the wrapped product and `| 0`
 * keeps every intermediate a signed 32-bit value, so results match Java bit for bit. Java's `>>>`
 * on an int is JS `>>>` followed by `| 0`, which the XORs below do implicitly.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/** Kafka's murmur2 of `data`, as the signed 32-bit int Java returns. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length & ~3;

  for (let i = 0; i < length4; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }

  // Java's switch on (length % 4) falls through from case 3 to case 1: the tail bytes are XORed in
  // highest first, then one multiply, exactly once.
  const rest = length & 3;
  if (rest === 3) h ^= data[length4 + 2] << 16;
  if (rest >= 2) h ^= data[length4 + 1] << 8;
  if (rest >= 1) {
    h ^= data[length4];
    h = Math.imul(h, M);
  }

  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils.toPositive: clears the sign bit (not Math.abs, which maps MIN_VALUE to itself). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for a non-null key among `partitions`. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return toPositive(murmur2(key)) % partitions;
}
