/* lepton_hdl demo firmware: every test image through the accelerator and through the same
   integer network in plain C on the CPU; both checked against the golden model element by
   element; one verdict line at the end. */
#include <stdio.h>
#include <stdint.h>
#include <irq.h>
#include <system.h>
#include <libbase/uart.h>
#include <generated/csr.h>
#include <generated/soc.h>
#include "lepton.h"
#include "model.h"
#include "data.h"
#ifdef LEPTON_RELOAD
#include <string.h>
#include <libbase/crc.h>
#include "data_reload.h"
#endif

/* a frame's output in 32-bit words (LEPTON_OUT_WORDS counts bus words) */
#define OUT_WORDS (LEPTON_OUT_WORDS * (LEPTON_WORD_BYTES / 4))
/* a job of n frames that has not finished after this many cycles is hung: 4x the pipeline's
   bound a frame (the DMA's share included) plus a margin */
#define JOB_TIMEOUT(n) (1000000ULL + (uint64_t)(n) * (4ULL * LEPTON_BOUND_CYCLES + 100000ULL))
/* every output buffer holds this before each accelerator run: a word the DMA did not write
   stays poison and shows as a mismatch, never as a stale right answer */
#define POISON 0xA5A5A5A5u
static uint32_t accel_out[N_IMAGES][OUT_WORDS] __attribute__((aligned(16)));
static uint32_t single_out[OUT_WORDS] __attribute__((aligned(16)));
static int32_t cpu_out[MODEL_OUT_SIZE];
static int32_t tuned_out[MODEL_OUT_SIZE];

static void poison(uint32_t *buf, int words) {
  for (int i = 0; i < words; i++) buf[i] = POISON;
  flush_cpu_dcache();   /* the DMA writes memory, not the cache */
#ifdef CONFIG_L2_SIZE
  flush_l2_cache();
#endif
}

static int argmax(const int32_t *v, int n) {
  int b = 0;
  for (int i = 1; i < n; i++) if (v[i] > v[b]) b = i;
  return b;
}

static void finish(void);
#ifdef LEPTON_RELOAD
/* weights in RAM: every image through the accelerator with the weights loaded now, checked
   against that model's golden outputs; returns the mismatching elements */
static int run_phase(const char *name, const uint32_t (*imgs)[IMAGE_WORDS], const int32_t (*exp)[MODEL_OUT_SIZE]) {
  int mismatches = 0, correct = 0;
  poison(&accel_out[0][0], N_IMAGES * OUT_WORDS);
  lepton_run(imgs, accel_out, N_IMAGES);
  if (lepton_wait(JOB_TIMEOUT(N_IMAGES))) { printf("LEPTON-VERDICT status=hung\n"); finish(); }
  for (int i = 0; i < N_IMAGES; i++) {
    int32_t v[MODEL_OUT_SIZE];
    for (int e = 0; e < MODEL_OUT_SIZE; e++) {
      v[e] = lepton_output(accel_out[i], e);
      if (v[e] != exp[i][e]) {
        if (!mismatches) printf("  %s: image %d element %d: accel %ld golden %ld\n", name, i, e, (long)v[e], (long)exp[i][e]);
        mismatches++;
      }
    }
    correct += (argmax(v, MODEL_OUT_SIZE) == labels[i]);
  }
  printf("LEPTON-PHASE model=%s images=%d correct=%d mismatches=%d\n", name, N_IMAGES, correct, mismatches);
  return mismatches;
}
#endif

#ifdef LEPTON_UART_UPDATES
/* Weights over the UART, as a field device gets them. The frame: "LPWU", the image length
   (u32, little-endian), the image in blocks of UPDATE_BLOCK bytes, each but the last answered
   "LEPTON-UPDATE ack OFFSET" (the host waits for it: the UART's receive ring never overflows),
   then the CRC-32 of the image (u32). A frame whose CRC-32 does not match is refused and the
   loaded weights stay in use; a whole frame goes to lepton_load_weights, which checks the image. */
#define UPDATE_BLOCK 64
static uint32_t update_buf[(32 + 4 * LEPTON_PARAM_WORDS) / 4] __attribute__((aligned(16)));

static uint32_t read_u32(void) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)(unsigned char)uart_read() << (8 * i);
  return v;
}

static int receive_update(void) {
  printf("LEPTON-UPDATE ready max=%lu\n", (unsigned long)sizeof update_buf);
  const char *sync = "LPWU";
  int got = 0;
  while (got < 4) {                       /* hunt for the frame's start */
    char c = uart_read();
    got = (c == sync[got]) ? got + 1 : (c == sync[0]) ? 1 : 0;
  }
  uint32_t len = read_u32();
  if (len > sizeof update_buf || len < 32) {
    printf("LEPTON-UPDATE rc=%d (%s): a %lu-byte frame\n", LEPTON_ESIZE, lepton_strerror(LEPTON_ESIZE), (unsigned long)len);
    return LEPTON_ESIZE;
  }
  unsigned char *dst = (unsigned char *)update_buf;
  for (uint32_t off = 0; off < len; off += UPDATE_BLOCK) {
    printf("LEPTON-UPDATE ack %lu\n", (unsigned long)off);
    uint32_t n = len - off < UPDATE_BLOCK ? len - off : UPDATE_BLOCK;
    for (uint32_t i = 0; i < n; i++) dst[off + i] = (unsigned char)uart_read();
  }
  uint32_t crc = read_u32();
  int rc = (crc32(dst, len) == crc) ? lepton_load_weights(update_buf, len) : LEPTON_ECHECKSUM;
  printf("LEPTON-UPDATE rc=%d (%s)%s\n", rc, lepton_strerror(rc),
         (crc32(dst, len) == crc) ? "" : " frame checksum: refused, the loaded weights stay");
  return rc;
}

/* every image through the accelerator; the outputs must equal one model's golden outputs
   exactly (the firmware holds both models'): the line names which */
static int run_phase_either(void) {
  int ma = 0, mb = 0, ca = 0, cb = 0;
  poison(&accel_out[0][0], N_IMAGES * OUT_WORDS);
  lepton_run(images_dma, accel_out, N_IMAGES);
  if (lepton_wait(JOB_TIMEOUT(N_IMAGES))) { printf("LEPTON-VERDICT status=hung\n"); finish(); }
  uint32_t *out_a = &accel_out[0][0];
  for (int i = 0; i < N_IMAGES; i++) {
    int32_t v[MODEL_OUT_SIZE];
    for (int e = 0; e < MODEL_OUT_SIZE; e++) { v[e] = lepton_output(out_a + i * OUT_WORDS, e); ma += v[e] != expected[i][e]; }
    ca += argmax(v, MODEL_OUT_SIZE) == labels[i];
  }
  poison(&accel_out[0][0], N_IMAGES * OUT_WORDS);
  lepton_run(reload_images_dma, accel_out, N_IMAGES);
  if (lepton_wait(JOB_TIMEOUT(N_IMAGES))) { printf("LEPTON-VERDICT status=hung\n"); finish(); }
  for (int i = 0; i < N_IMAGES; i++) {
    int32_t v[MODEL_OUT_SIZE];
    for (int e = 0; e < MODEL_OUT_SIZE; e++) { v[e] = lepton_output(accel_out[i], e); mb += v[e] != reload_expected[i][e]; }
    cb += argmax(v, MODEL_OUT_SIZE) == labels[i];
  }
  int a = ma <= mb;
  printf("LEPTON-PHASE model=%s images=%d correct=%d mismatches=%d\n", a ? MODEL_NAME : RELOAD_NAME, N_IMAGES,
         a ? ca : cb, a ? ma : mb);
  return a ? ma : mb;
}
#endif

static void finish(void) {
#ifdef CSR_SIM_FINISH_BASE
  sim_finish_finish_write(1);
#endif
  while (1);
}

int main(void) {
#ifdef CONFIG_CPU_HAS_INTERRUPT
  irq_setmask(0);
  irq_setie(1);
#endif
  uart_init();
  printf("\nlepton_hdl firmware: model %s, %d images, accelerator bound %d cycles/frame\n",
         MODEL_NAME, N_IMAGES, LEPTON_BOUND_CYCLES);

  /* 1. Accelerator, one image alone: end-to-end latency seen by the CPU (its output is
     checked too, below). */
  poison(single_out, OUT_WORDS);
  uint64_t t0 = cycles_now();
  lepton_run(images_dma[0], single_out, 1);
  if (lepton_wait(JOB_TIMEOUT(1))) { printf("LEPTON-VERDICT status=hung\n"); finish(); }
  uint64_t latency = cycles_now() - t0;

#ifdef LEPTON_TEST_ABORT
  /* robustness test: a job whose wait times out (the driver must say so, not hang), aborted in
     the middle of a frame; the runs below must still be exact */
  poison(&accel_out[0][0], N_IMAGES * OUT_WORDS);
  lepton_run(images_dma, accel_out, N_IMAGES);
  if (lepton_wait(LEPTON_TEST_ABORT) == 0) printf("LEPTON-TEST wait did not time out\n");
  else printf("LEPTON-TEST wait timed out after %d cycles\n", LEPTON_TEST_ABORT);
  if (lepton_abort()) { printf("LEPTON-VERDICT verdict=FAIL status=abort\n"); finish(); }
  printf("LEPTON-TEST aborted: status busy=%lu\n", (unsigned long)(lepton_status_read() & 1));
#endif

#ifdef LEPTON_TEST_STUCK
  /* robustness test: a job that can never finish (its input held back) must make the driver
     return a timeout error with the normal timeout, not hang; aborted, the runs below are exact */
  poison(&accel_out[0][0], N_IMAGES * OUT_WORDS);
  lepton_pause(1);
  lepton_run(images_dma, accel_out, N_IMAGES);
  if (lepton_wait(JOB_TIMEOUT(N_IMAGES)) == 0) printf("LEPTON-TEST stuck job finished\n");
  else printf("LEPTON-TEST stuck job: wait returned a timeout error, status busy=%lu\n",
              (unsigned long)(lepton_status_read() & 1));
  if (lepton_abort()) { printf("LEPTON-VERDICT verdict=FAIL status=abort\n"); finish(); }
  lepton_pause(0);
#endif

  /* 2. Accelerator, all images back to back (the pipeline overlaps them). */
  poison(&accel_out[0][0], N_IMAGES * OUT_WORDS);
  t0 = cycles_now();
  lepton_run(images_dma, accel_out, N_IMAGES);
  if (lepton_wait(JOB_TIMEOUT(N_IMAGES))) { printf("LEPTON-VERDICT status=hung\n"); finish(); }
  uint64_t accel_total = cycles_now() - t0;
  uint32_t hw_total = lepton_hw_cycles();
#ifdef LEPTON_INJECT_FAULT
  /* fault injection (tests): one wrong output word; the verdict must say FAIL */
  accel_out[LEPTON_INJECT_FAULT % N_IMAGES][0] ^= 1u;
#endif

  /* 3. CPU reference and comparison: the plain C reference (first CPU baseline) and the tuned
     C (second baseline: each pixel's in-bounds tap ranges, no check per tap), both timed,
     both checked. */
  uint64_t cpu_total = 0, tuned_total = 0;
  int mismatches = 0, correct = 0;
  for (int e = 0; e < MODEL_OUT_SIZE; e++) {       /* the single-image run's output */
    int32_t v = lepton_output(single_out, e);
    if (v != expected[0][e]) {
      if (!mismatches) printf("  single-image run, element %d: accel %ld golden %ld\n", e, (long)v, (long)expected[0][e]);
      mismatches++;
    }
  }
  for (int i = 0; i < N_IMAGES; i++) {
    uint64_t c0 = cycles_now();
    model_infer(images_q[i], cpu_out);
    cpu_total += cycles_now() - c0;
    c0 = cycles_now();
    model_infer_tuned(images_q[i], tuned_out);
    tuned_total += cycles_now() - c0;
    int bad = 0;
    int32_t acc_vals[MODEL_OUT_SIZE];
    for (int e = 0; e < MODEL_OUT_SIZE; e++) {
      acc_vals[e] = lepton_output(accel_out[i], e);
      if (acc_vals[e] != cpu_out[e] || acc_vals[e] != expected[i][e] || tuned_out[e] != expected[i][e]) {
        if (!bad) printf("  image %d element %d: accel %ld cpu %ld tuned cpu %ld golden %ld\n", i, e,
                         (long)acc_vals[e], (long)cpu_out[e], (long)tuned_out[e], (long)expected[i][e]);
        bad++;
      }
    }
    mismatches += bad;
    int pa = argmax(acc_vals, MODEL_OUT_SIZE), pc = argmax(cpu_out, MODEL_OUT_SIZE);
    correct += (pa == labels[i]);
    printf("image %3d: label %s accel %s cpu %s %s\n", i, label_names[labels[i]], label_names[pa],
           label_names[pc], bad ? "MISMATCH" : "ok");
  }
#ifdef LEPTON_RELOAD
  printf("LEPTON-PHASE model=%s images=%d correct=%d mismatches=%d\n", MODEL_NAME, N_IMAGES, correct, mismatches);
  {
    /* 4. Weights in RAM: another model's image loaded at run time, no new gateware, then the
       same images on it; a corrupted image must be refused, the loaded weights kept. */
#ifndef CSR_LEPTON_PUSH_ADDR
    /* a frame started during a load is refused (status error), the load goes on: the image is
       loaded here by hand once, a start issued at once; lepton_load_weights loads it again below
       (with DMA: the CPU-fed port's load takes its words from the driver) */
    lepton_ev_pending_write(lepton_ev_pending_read());
    lepton_src_write((uint32_t)(reload_image + reload_image[6]));   /* the payload, after the header */
    lepton_load_write(1);
    lepton_frames_write(1);
    lepton_start_write(1);
    uint32_t st = lepton_status_read();
    lepton_wait(JOB_TIMEOUT(1));           /* reports the refused start's error */
    uint32_t st2 = lepton_status_read();
    printf("LEPTON-TEST start during a load: error=%lu loading=%lu, then the load finished done=%lu busy=%lu\n",
           (unsigned long)((st >> 2) & 1), (unsigned long)((st >> 3) & 1), (unsigned long)((st2 >> 1) & 1),
           (unsigned long)(st2 & 1));
#endif
    uint64_t r0 = cycles_now();
    int rc = lepton_load_weights(reload_image, 4 * RELOAD_IMAGE_WORDS);
    uint64_t reload_cycles = cycles_now() - r0;
    printf("LEPTON-RELOAD model=%s rc=%d (%s) bytes=%d cycles=%lu dma_cycles=%lu\n", RELOAD_NAME, rc,
           lepton_strerror(rc), 4 * RELOAD_IMAGE_WORDS, (unsigned long)reload_cycles, (unsigned long)lepton_hw_cycles());
    if (rc) mismatches++;
    mismatches += run_phase(RELOAD_NAME, reload_images_dma, reload_expected);
    static uint32_t bad[RELOAD_IMAGE_WORDS] __attribute__((aligned(16)));
    memcpy(bad, reload_image, sizeof bad);
    bad[RELOAD_IMAGE_WORDS / 2] ^= 0x00010000u;          /* one bit of the payload flipped */
    rc = lepton_load_weights(bad, sizeof bad);
    printf("LEPTON-CORRUPT rc=%d (%s)\n", rc, lepton_strerror(rc));
    if (rc != LEPTON_ECHECKSUM) mismatches++;
    mismatches += run_phase(RELOAD_NAME " (after the corrupt image)", reload_images_dma, reload_expected);
  }
#ifdef LEPTON_UART_UPDATES
  /* 5. Updates from the host over the UART (the host decides what it sends; the phase line
     names the model whose golden outputs the accelerator then matches). */
  for (int k = 0; k < LEPTON_UART_UPDATES; k++) {
    receive_update();
    mismatches += run_phase_either();
  }
#endif
#endif
  uint32_t acc_per = (uint32_t)(accel_total / N_IMAGES);
  uint32_t cpu_per = (uint32_t)(cpu_total / N_IMAGES);
  uint32_t tuned_per = (uint32_t)(tuned_total / N_IMAGES);
  uint32_t speed10 = acc_per ? (uint32_t)((10ULL * cpu_per) / acc_per) : 0;
  printf("LEPTON-VERDICT verdict=%s images=%d correct=%d accuracy=%d.%02d mismatches=%d accel_cycles_per_inference=%lu "
         "cpu_cycles_per_inference=%lu cpu_tuned_cycles_per_inference=%lu speedup=%lu.%lu accel_latency_cycles=%lu accel_hw_cycles=%lu "
         "bound_cycles=%d labels=%d\n",
         mismatches ? "FAIL" : "PASS", N_IMAGES, correct, (100 * correct) / N_IMAGES, ((10000 * correct) / N_IMAGES) % 100, mismatches,
         (unsigned long)acc_per, (unsigned long)cpu_per, (unsigned long)tuned_per, (unsigned long)(speed10 / 10), (unsigned long)(speed10 % 10),
         (unsigned long)latency, (unsigned long)hw_total, LEPTON_BOUND_CYCLES, HAS_LABELS);
  finish();
  return 0;
}
