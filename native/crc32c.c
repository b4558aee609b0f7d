/*
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) for Sluice's RecordBatch v2 checks, loaded
 * through FFI by src/runtime/crc32c_native.ts. Built by scripts/build_native.ts (`deno task native`).
 *
 * x86-64 with SSE4.2 and PCLMULQDQ: the CRC32 instruction has a latency of 3 cycles and a throughput
 * of 1 a cycle, so one dependent chain reaches a third of what the unit can do. Long inputs are cut
 * into blocks of three equal streams computed side by side; the three CRCs are joined by shifting
 * the first two over the bytes that follow them:
 *
 *   crc(A B C) = shift(crc(A), 2n) ^ shift(crc0(B), n) ^ crc0(C)      (n = stream length in bits)
 *
 * where crc0 starts from a zero state. shift(s, n) = s * x^n mod P is one carry-less multiply of s by
 * the constant x^(n-33) mod P followed by one CRC32 of the 64-bit product with a zero state, which
 * reduces it and contributes the missing x^33 (x^32 from the instruction, x^1 from the reflected
 * product). Both shifts go through one CRC32 since it is linear: crc32(0, a ^ b).
 *
 * Elsewhere (no SSE4.2/PCLMUL, another architecture) sluice_crc32c_available() answers 0 and the
 * loader uses another implementation; sluice_crc32c must then not be called.
 *
 * The state convention is the usual one: sluice_crc32c(0, data) is the CRC of data, and
 * sluice_crc32c(sluice_crc32c(0, a), b) is the CRC of a followed by b.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define POLY 0x82F63B78u

/*
 * Stream lengths in bytes (multiples of 8): blocks of 3 x 4096, then 3 x 256, then 3 x 64 bytes;
 * under 192 bytes one stream. Joining costs ~10 cycles of latency per block (two multiplies and a
 * CRC32), so long blocks for long inputs; the short and tiny ones keep inputs of 200 B - 1 KiB at
 * 13-20 GB/s instead of the single stream's 9 (measured on the 2-core AMD EPYC of the bench VM).
 */
#define LONG_LEN 4096
#define SHORT_LEN 256
#define TINY_LEN 64

/* x^(8 * bytes - 33) mod P in the reflected representation (bit 31 is x^0). */
static uint32_t shift_constant(size_t bytes) {
  uint32_t v = 0x80000000u; /* x^0 */
  for (size_t k = 0; k < 8 * bytes - 33; k++) v = (v & 1) ? (v >> 1) ^ POLY : v >> 1;
  return v;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>

static uint32_t k_long1, k_long2, k_short1, k_short2, k_tiny1, k_tiny2;
static int hw_ok;

#define HW __attribute__((target("sse4.2,pclmul")))

static inline uint64_t load64(const uint8_t *p) {
  uint64_t v;
  memcpy(&v, p, 8); /* unaligned load, one mov */
  return v;
}

/* shift(a, 2n) ^ shift(b, n) for the constants k2 = x^(2n-33), k1 = x^(n-33). */
HW static inline uint32_t shift2(uint32_t a, uint32_t k2, uint32_t b, uint32_t k1) {
  __m128i pa = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)a), _mm_cvtsi32_si128((int)k2), 0);
  __m128i pb = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)b), _mm_cvtsi32_si128((int)k1), 0);
  return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(_mm_xor_si128(pa, pb)));
}

/* One block of three streams of `len` bytes each, starting from state `s`. */
HW static inline uint32_t block3(uint32_t s, const uint8_t *p, size_t len, uint32_t k2,
                                 uint32_t k1) {
  uint64_t a = s, b = 0, c = 0;
  const uint8_t *pb = p + len, *pc = p + 2 * len;
  for (size_t i = 0; i < len; i += 8) {
    a = _mm_crc32_u64(a, load64(p + i));
    b = _mm_crc32_u64(b, load64(pb + i));
    c = _mm_crc32_u64(c, load64(pc + i));
  }
  return shift2((uint32_t)a, k2, (uint32_t)b, k1) ^ (uint32_t)c;
}

HW static uint32_t update_hw(uint32_t s, const uint8_t *p, size_t len) {
  /* Align to 8 bytes first: later loads then never cross a cache line. */
  while (len > 0 && ((uintptr_t)p & 7) != 0) {
    s = _mm_crc32_u8(s, *p++);
    len--;
  }
  while (len >= 3 * LONG_LEN) {
    s = block3(s, p, LONG_LEN, k_long2, k_long1);
    p += 3 * LONG_LEN;
    len -= 3 * LONG_LEN;
  }
  while (len >= 3 * SHORT_LEN) {
    s = block3(s, p, SHORT_LEN, k_short2, k_short1);
    p += 3 * SHORT_LEN;
    len -= 3 * SHORT_LEN;
  }
  while (len >= 3 * TINY_LEN) {
    s = block3(s, p, TINY_LEN, k_tiny2, k_tiny1);
    p += 3 * TINY_LEN;
    len -= 3 * TINY_LEN;
  }
  uint64_t s64 = s;
  while (len >= 8) {
    s64 = _mm_crc32_u64(s64, load64(p));
    p += 8;
    len -= 8;
  }
  s = (uint32_t)s64;
  while (len > 0) {
    s = _mm_crc32_u8(s, *p++);
    len--;
  }
  return s;
}

static int detect(void) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  if (!(ecx & bit_SSE4_2) || !(ecx & bit_PCLMUL)) return 0;
  k_long1 = shift_constant(LONG_LEN);
  k_long2 = shift_constant(2 * LONG_LEN);
  k_short1 = shift_constant(SHORT_LEN);
  k_short2 = shift_constant(2 * SHORT_LEN);
  k_tiny1 = shift_constant(TINY_LEN);
  k_tiny2 = shift_constant(2 * TINY_LEN);
  return 1;
}

/* Runs when the library is loaded, before any call can reach sluice_crc32c. */
__attribute__((constructor)) static void init(void) { hw_ok = detect(); }

int sluice_crc32c_available(void) { return hw_ok; }

uint32_t sluice_crc32c(uint32_t crc, const uint8_t *data, uint32_t len) {
  if (len == 0) return crc;
  return ~update_hw(~crc, data, len);
}

#else

int sluice_crc32c_available(void) {
  (void)shift_constant;
  return 0;
}

uint32_t sluice_crc32c(uint32_t crc, const uint8_t *data, uint32_t len) {
  (void)data;
  (void)len;
  return crc; /* never called: sluice_crc32c_available() is 0 */
}

#endif
