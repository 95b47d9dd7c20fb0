#include <stdio.h>
#include <libbase/crc.h>
#include <generated/csr.h>
#include <generated/soc.h>
#include <system.h>
#include "lepton.h"

#ifndef CSR_LEPTON_BASE
#error "the SoC has no lepton accelerator (CSR_LEPTON_BASE undefined)"
#endif

#ifdef CSR_TIMER0_UPTIME_CYCLES_ADDR
uint64_t cycles_now(void) {
  timer0_uptime_latch_write(1);
  return timer0_uptime_cycles_read();
}
#else
/* a SoC without the 64-bit uptime counter (the iCEBreaker's): timer0 free-running down from
   2^32-1, widened here; it must be read at least once a wrap (179 s at 24 MHz) */
uint64_t cycles_now(void) {
  static int running;
  static uint32_t last;
  static uint64_t high;
  if (!running) {
    timer0_en_write(0);
    timer0_reload_write(0xffffffffu);
    timer0_load_write(0xffffffffu);
    timer0_en_write(1);
    running = 1;
  }
  timer0_update_value_write(1);
  uint32_t v = ~timer0_value_read();          /* counts up */
  if (v < last) high += 1ULL << 32;
  last = v;
  return high | v;
}
#endif

#ifdef CSR_LEPTON_PUSH_ADDR
/* The CPU-fed stream port (no DMA): the driver moves every word itself, between lepton_run and
   the end of lepton_wait. The input FIFO takes a frame before start, so a one-frame job runs at
   the pipeline's own pace. */
#define LEPTON_ST_IN_READY (1u << 4)
#define LEPTON_ST_OUT_VALID (1u << 5)
static const uint32_t *feed_src;
static uint32_t *feed_dst;
static uint32_t feed_in, feed_out;       /* words left to push, to pop */
static int feed_held;                   /* lepton_pause(1): push nothing */

static void feed(void) {
  for (;;) {
    uint32_t st = lepton_status_read();
    int moved = 0;
    if (feed_out && (st & LEPTON_ST_OUT_VALID)) {
      *feed_dst++ = lepton_pop_read();
      feed_out--;
      moved = 1;
    }
    if (feed_in && !feed_held && (st & LEPTON_ST_IN_READY)) {
      lepton_push_write(*feed_src++);
      feed_in--;
      moved = 1;
    }
    if (!moved) return;
  }
}

static void feed_start(const void *src, void *dst, uint32_t in_words, uint32_t out_words) {
  feed_src = (const uint32_t *)src;
  feed_dst = (uint32_t *)dst;
  feed_in = in_words;
  feed_out = out_words;
  feed();                              /* fill the input FIFO before the start */
}

void lepton_run(const void *src, void *dst, uint32_t frames) {
  lepton_ev_pending_write(lepton_ev_pending_read());   /* clear a stale done event */
  lepton_frames_write(frames);
  feed_start(src, dst, frames * LEPTON_IN_WORDS, frames * LEPTON_OUT_WORDS);
  lepton_start_write(1);
}
#else
void lepton_run(const void *src, void *dst, uint32_t frames) {
  lepton_ev_pending_write(lepton_ev_pending_read());   /* clear a stale done event */
  lepton_src_write((uint32_t)src);
  lepton_dst_write((uint32_t)dst);
  lepton_frames_write(frames);
  lepton_start_write(1);
}
#endif

/* Cycles the CPU stays off the bus between two polls of a running job: every poll is a few
   CSR accesses, and each one takes the shared bus from the DMA for several cycles (polling
   back to back halved a 512x512 filter's throughput). A sixteenth of the frame's bound, at
   most 256: a poll's lateness stays small against the job. */
#ifndef LEPTON_POLL_GAP
#define LEPTON_POLL_GAP (LEPTON_BOUND_CYCLES / 16 < 256 ? LEPTON_BOUND_CYCLES / 16 : 256)
#endif

static void poll_gap(void) {
#ifdef CSR_LEPTON_PUSH_ADDR
  feed();                               /* the CPU is the stream's mover */
#else
  for (int i = 0; i < LEPTON_POLL_GAP / 2; i++) __asm__ volatile("nop");   /* no bus access */
#endif
}

int lepton_wait(uint64_t timeout_cycles) {
  uint64_t t0 = cycles_now();
  /* the done event (the IRQ source) is pending once every output word is written */
#ifdef CSR_LEPTON_PUSH_ADDR
  feed();
#endif
  while (!(lepton_ev_pending_read() & 1)) {
    poll_gap();
    if (cycles_now() - t0 > timeout_cycles) {
      uint32_t st = lepton_status_read();
      printf("LEPTON-ERROR accelerator hung: no done after %lu cycles (busy=%lu done=%lu error=%lu)\n",
             (unsigned long)timeout_cycles, (unsigned long)(st & 1), (unsigned long)((st >> 1) & 1),
             (unsigned long)((st >> 2) & 1));
      return -1;
    }
  }
  lepton_ev_pending_write(1);
  if (lepton_status_read() & 4) {
    printf("LEPTON-ERROR accelerator reported an error (start while busy or zero frames)\n");
    return -1;
  }
  flush_cpu_dcache();   /* the DMA wrote behind the data cache */
#ifdef CONFIG_L2_SIZE
  flush_l2_cache();
#endif
  return 0;
}

int lepton_abort(void) {
  lepton_abort_write(1);        /* the datapath and DMA engines reset once no bus cycle is in flight */
  for (int i = 0; i < 100000; i++) {
    if (!(lepton_status_read() & 1)) {
      lepton_ev_pending_write(lepton_ev_pending_read());   /* no stale done event */
#ifdef CSR_LEPTON_PUSH_ADDR
      feed_in = feed_out = 0;
#endif
      return 0;
    }
  }
  printf("LEPTON-ERROR abort did not complete (a DMA bus cycle never ended)\n");
  return -1;
}

const char *lepton_strerror(int code) {
  static const char *const names[] = {"ok", "bad magic", "format version", "topology", "size", "checksum",
                                      "busy", "timeout", "weights not in RAM"};
  return (code <= 0 && code >= LEPTON_ENOTRAM) ? names[-code] : "unknown";
}

int lepton_load_weights(const void *image, uint32_t len) {
#ifndef LEPTON_PARAM_WORDS
  (void)image; (void)len;
  return LEPTON_ENOTRAM;
#else
  const uint32_t *h = (const uint32_t *)image;
  if (len < 32 || ((uint32_t)image & 3)) return LEPTON_ESIZE;
  if (h[0] != 0x4957504cu) return LEPTON_EMAGIC;
  if (h[1] != 1) return LEPTON_EVERSION;
  if (h[2] != (uint32_t)LEPTON_TOPOLOGY_LO || h[3] != (uint32_t)LEPTON_TOPOLOGY_HI) return LEPTON_ETOPOLOGY;
  if (h[4] != LEPTON_PARAM_WORDS || h[6] < 8 || len != 4 * (h[6] + h[4])) return LEPTON_ESIZE;
  const uint32_t *payload = h + h[6];
  if (crc32((const unsigned char *)payload, 4 * h[4]) != h[5]) return LEPTON_ECHECKSUM;
  if (lepton_status_read() & 1) return LEPTON_EBUSY;
  lepton_ev_pending_write(lepton_ev_pending_read());
#ifdef CSR_LEPTON_PUSH_ADDR
  lepton_load_write(1);
  feed_start(payload, 0, LEPTON_PARAM_WORDS, 0);
#else
  lepton_src_write((uint32_t)payload);
  lepton_load_write(1);
#endif
  if (lepton_wait(1000000ULL + 4ULL * LEPTON_PARAM_WORDS)) {
    lepton_abort();
    return LEPTON_ETIMEOUT;
  }
  return LEPTON_OK;
#endif
}

#ifdef CSR_LEPTON_PUSH_ADDR
void lepton_pause(int on) { feed_held = on; }
#else
void lepton_pause(int on) { lepton_pause_write(on ? 1 : 0); }
#endif

uint32_t lepton_hw_cycles(void) { return lepton_cycles_read(); }

int32_t lepton_output(const uint32_t *frame, int i) {
  const int bits = LEPTON_OUT_BITS, c = LEPTON_OUT_C;
  const int px = i / c, e = i % c;
  const uint32_t *w = frame + px * LEPTON_OUT_WORDS_PER_PIXEL;
  const int pos = e * bits;
  uint64_t win = w[pos / 32];
  if ((pos % 32) + bits > 32) win |= (uint64_t)w[pos / 32 + 1] << 32;
  uint32_t v = (uint32_t)(win >> (pos % 32)) & ((1u << bits) - 1);
  if (LEPTON_OUT_SIGNED && (v >> (bits - 1))) return (int32_t)v - (1 << bits);
  return (int32_t)v;
}
