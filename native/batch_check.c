/*
 * Checks the CRC-32C of every RecordBatch v2 in a buffer on a helper thread, while the calling
 * thread writes the same buffer to its segment file (src/storage/log_append.ts): an append's check
 * and its write overlap instead of following each other (issue 17). Built into the same library as
 * crc32c.c by scripts/build_native.ts; loaded by src/runtime/crc32c_native.ts.
 *
 *   int32_t sluice_batch_check_open(void)
 *     A checker of the caller's own, with its own helper thread: its slot (0..SLOTS-1), or -1 (no
 *     SSE4.2/PCLMUL, every slot taken, no thread). Each JavaScript isolate opens one and keeps it:
 *     isolates of one process (workers, `deno test --parallel`) never wait for each other's jobs.
 *   int32_t sluice_batch_check_start(int32_t slot, const uint8_t *bytes, uint32_t len)
 *     1: the helper took the job; the caller must call sluice_batch_check_join(slot) before it
 *        lets go of `bytes` or changes any byte from offset 17 of a batch on (the CRC field and
 *        what it covers; baseOffset and partitionLeaderEpoch may be stamped meanwhile).
 *     0: not taken (a bad slot, or a job of this slot under way): the caller checks the batches.
 *   int32_t sluice_batch_check_join(int32_t slot)
 *     Waits for the slot's job: -1 when every batch's stored CRC matches, -2 when the batches do
 *     not tile the buffer (the caller checked the framing first: a bug) or no job was started,
 *     else the byte position of the first batch whose CRC does not match.
 *
 * Layout read (big-endian, RecordBatch v2): batchLength int32 at 8 (the batch is 12 + batchLength
 * bytes), crc uint32 at 17, covering bytes 21 to the batch's end.
 *
 * The helper threads live as long as the process (a slot is never given back) and sleep on a
 * condition variable between jobs. Since they run this library's code, the first open pins the
 * library (RTLD_NODELETE): a runtime closing its handle (Deno does when an isolate ends) must not
 * unmap code a helper runs, nor reset the state it waits on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

int sluice_crc32c_available(void);
uint32_t sluice_crc32c(uint32_t crc, const uint8_t *data, uint32_t len);

#define BATCH_LENGTH_AT 8
#define CRC_AT 17
#define ATTRIBUTES_AT 21
#define HEADER_BYTES 61
#define LOG_OVERHEAD 12
/* Checkers per process: one per isolate that makes a large append; the rest check inline. */
#define SLOTS 64

struct checker {
  /* Set once its helper runs: the only slots start and join use. */
  atomic_int ready;
  pthread_mutex_t lock;
  pthread_cond_t posted;
  pthread_cond_t finished;
  atomic_int busy;
  /* 0: idle, 1: a job posted, 2: its result ready. Guarded by `lock`. */
  int state;
  const uint8_t *bytes;
  uint32_t len;
  int32_t result;
};

static struct checker slots[SLOTS];
static int slots_open;
static int pinned;
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t be32(const uint8_t *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static int32_t check_all(const uint8_t *bytes, uint32_t len) {
  uint32_t pos = 0;
  while (pos < len) {
    if (len - pos < HEADER_BYTES) return -2;
    int32_t batch_length = (int32_t)be32(bytes + pos + BATCH_LENGTH_AT);
    if (batch_length < HEADER_BYTES - LOG_OVERHEAD) return -2;
    uint32_t size = (uint32_t)batch_length + LOG_OVERHEAD;
    if (size > len - pos) return -2;
    uint32_t stored = be32(bytes + pos + CRC_AT);
    uint32_t actual = sluice_crc32c(0, bytes + pos + ATTRIBUTES_AT, size - ATTRIBUTES_AT);
    if (stored != actual) return (int32_t)pos;
    pos += size;
  }
  return -1;
}

static void *helper(void *arg) {
  struct checker *c = arg;
  pthread_mutex_lock(&c->lock);
  for (;;) {
    while (c->state != 1) pthread_cond_wait(&c->posted, &c->lock);
    const uint8_t *bytes = c->bytes;
    uint32_t len = c->len;
    pthread_mutex_unlock(&c->lock);
    int32_t result = check_all(bytes, len);
    pthread_mutex_lock(&c->lock);
    c->result = result;
    c->state = 2;
    pthread_cond_signal(&c->finished);
  }
  return NULL;
}

/* Keeps this library mapped for the life of the process (see above); 1 when it is. */
static int pin_library(void) {
  if (pinned) return 1;
  Dl_info info;
  if (dladdr((void *)&pin_library, &info) == 0 || info.dli_fname == NULL) return 0;
  /* A second reference that is never closed, and RTLD_NODELETE for good measure. */
  if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NODELETE) == NULL) return 0;
  pinned = 1;
  return 1;
}

int32_t sluice_batch_check_open(void) {
  if (!sluice_crc32c_available()) return -1;
  pthread_mutex_lock(&open_lock);
  int32_t slot = -1;
  if (slots_open < SLOTS && pin_library()) {
    struct checker *c = &slots[slots_open];
    pthread_attr_t attr;
    pthread_t t;
    int ok = pthread_mutex_init(&c->lock, NULL) == 0;
    ok = ok && pthread_cond_init(&c->posted, NULL) == 0;
    ok = ok && pthread_cond_init(&c->finished, NULL) == 0;
    ok = ok && pthread_attr_init(&attr) == 0;
    if (ok) {
      ok = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0 &&
           pthread_create(&t, &attr, helper, c) == 0;
      pthread_attr_destroy(&attr);
    }
    /* A failed slot is not reused: its mutex or condition variables may be initialized. */
    if (ok) {
      atomic_store(&c->ready, 1);
      slot = slots_open;
    }
    slots_open++;
  }
  pthread_mutex_unlock(&open_lock);
  return slot;
}

static struct checker *checker_at(int32_t slot) {
  if (slot < 0 || slot >= SLOTS || !atomic_load(&slots[slot].ready)) return NULL;
  return &slots[slot];
}

int32_t sluice_batch_check_start(int32_t slot, const uint8_t *bytes, uint32_t len) {
  struct checker *c = checker_at(slot);
  if (c == NULL || len > INT32_MAX) return 0;
  if (atomic_exchange(&c->busy, 1) != 0) return 0;
  pthread_mutex_lock(&c->lock);
  c->bytes = bytes;
  c->len = len;
  c->state = 1;
  pthread_cond_signal(&c->posted);
  pthread_mutex_unlock(&c->lock);
  return 1;
}

int32_t sluice_batch_check_join(int32_t slot) {
  struct checker *c = checker_at(slot);
  if (c == NULL) return -2;
  pthread_mutex_lock(&c->lock);
  if (c->state == 0) {
    /* No job started: waiting would never end. */
    pthread_mutex_unlock(&c->lock);
    return -2;
  }
  while (c->state != 2) pthread_cond_wait(&c->finished, &c->lock);
  int32_t result = c->result;
  c->state = 0;
  c->bytes = NULL;
  pthread_mutex_unlock(&c->lock);
  atomic_store(&c->busy, 0);
  return result;
}
