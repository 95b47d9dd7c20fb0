/* lepton_hdl filter demo firmware: one photo through the accelerator (DMA in, the filter, DMA
   out) and through the same integer filter in plain C on the CPU (the reference and the tuned
   C, both timed); every output element compared; then the accelerator's output goes to the
   host over the UART (base64 lines and an FNV-1a hash) for the host's own check against the golden
   model and the PNGs. */
#include <stdio.h>
#include <stdint.h>
#include <irq.h>
#include <system.h>
#include <libbase/uart.h>
#include <generated/csr.h>
#include <generated/soc.h>
#include "lepton.h"
#include "model.h"
#include "filter_data.h"

#if LEPTON_IN_BITS != 8 || LEPTON_OUT_BITS > 8
#error "the filter demo takes 8-bit pixels in and sends outputs of at most 8 bits"
#endif
/* the output frame in 32-bit words (LEPTON_OUT_WORDS counts bus words) */
#define OUT32 (LEPTON_OUT_WORDS * (LEPTON_WORD_BYTES / 4))
#define POISON 0xA5A5A5A5u
/* a frame that has not finished after 4x its bound plus a margin is hung */
#define JOB_TIMEOUT (1000000ULL + 4ULL * LEPTON_BOUND_CYCLES)

static uint32_t accel_out[OUT32] __attribute__((aligned(64)));
static model_in_t cpu_in[MODEL_IN_SIZE];
static int32_t cpu_out[MODEL_OUT_SIZE];

static void finish(void) {
#ifdef CSR_SIM_FINISH_BASE
  sim_finish_finish_write(1);
#endif
  while (1);
}

static int compare(const int32_t *ref, const char *what) {
  int bad = 0;
  for (int e = 0; e < MODEL_OUT_SIZE; e++) {
    int32_t v = lepton_output(accel_out, e);
    if (v != ref[e]) {
      if (!bad) printf("  element %d: accel %ld, %s %ld\n", e, (long)v, what, (long)ref[e]);
      bad++;
    }
  }
  return bad;
}

static const char B64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* the output elements (one byte each) as base64, LINE bytes a console line */
#define LINE 57
static void send_output(void) {
  static uint8_t buf[LINE];
  char line[80];
  uint32_t hash = 2166136261u;     /* FNV-1a over the elements */
  int n = 0;
  for (int e = 0; e < MODEL_OUT_SIZE; e += n) {
    n = MODEL_OUT_SIZE - e < LINE ? MODEL_OUT_SIZE - e : LINE;
    for (int k = 0; k < n; k++) buf[k] = (uint8_t)lepton_output(accel_out, e + k);
    for (int k = 0; k < n; k++) hash = (hash ^ buf[k]) * 16777619u;
    int o = 0;
    for (int k = 0; k < n; k += 3) {
      uint32_t v = (uint32_t)buf[k] << 16 | (k + 1 < n ? (uint32_t)buf[k + 1] << 8 : 0) | (k + 2 < n ? buf[k + 2] : 0);
      line[o++] = B64[v >> 18 & 63];
      line[o++] = B64[v >> 12 & 63];
      line[o++] = k + 1 < n ? B64[v >> 6 & 63] : '=';
      line[o++] = k + 2 < n ? B64[v & 63] : '=';
    }
    line[o] = 0;
    printf("LEPTON-PX %s\n", line);
  }
  printf("LEPTON-PXEND elements=%d fnv=%08lx\n", MODEL_OUT_SIZE, (unsigned long)hash);
}

int main(void) {
#ifdef CONFIG_CPU_HAS_INTERRUPT
  irq_setmask(0);
  irq_setie(1);
#endif
  uart_init();
  printf("\nlepton_hdl filter: %s on %s, %dx%dx%d, accelerator bound %d cycles/frame\n", MODEL_NAME,
         FILTER_IMAGE, LEPTON_IN_H, LEPTON_IN_W, LEPTON_IN_C, LEPTON_BOUND_CYCLES);

  /* 1. The accelerator: the frame from main RAM, filtered, back to main RAM. */
  for (int i = 0; i < OUT32; i++) accel_out[i] = POISON;
  flush_cpu_dcache();
#ifdef CONFIG_L2_SIZE
  flush_l2_cache();
#endif
  uint64_t t0 = cycles_now();
  lepton_run(frame_dma, accel_out, 1);
  if (lepton_wait(JOB_TIMEOUT)) { printf("LEPTON-VERDICT verdict=FAIL status=hung\n"); finish(); }
  uint64_t latency = cycles_now() - t0;
  uint32_t hw = lepton_hw_cycles();
  flush_cpu_dcache();
#ifdef LEPTON_INJECT_FAULT
  accel_out[LEPTON_INJECT_FAULT % OUT32] ^= 1u;
#endif

  /* 2. The same filter in plain C on the CPU: the pixels as the C reference takes them (not
     timed: a layout copy), then the reference and the tuned C, each timed and compared. */
  const uint8_t *px = (const uint8_t *)frame_dma;
  for (int p = 0; p < LEPTON_IN_H * LEPTON_IN_W; p++)
    for (int c = 0; c < LEPTON_IN_C; c++) cpu_in[p * LEPTON_IN_C + c] = px[p * FRAME_PIXEL_BYTES + c];
  t0 = cycles_now();
  model_infer(cpu_in, cpu_out);
  uint64_t cpu = cycles_now() - t0;
  int mismatches = compare(cpu_out, "C reference");
  t0 = cycles_now();
  model_infer_tuned(cpu_in, cpu_out);
  uint64_t tuned = cycles_now() - t0;
  int tuned_mismatches = compare(cpu_out, "tuned C");

  printf("LEPTON-FILTER cycles=%lu latency_cycles=%lu cpu_cycles=%llu cpu_tuned_cycles=%llu "
         "cpu_mismatches=%d tuned_mismatches=%d\n", (unsigned long)hw, (unsigned long)latency,
         (unsigned long long)cpu, (unsigned long long)tuned, mismatches, tuned_mismatches);
  /* 3. The output to the host. */
  send_output();
  printf("LEPTON-VERDICT verdict=%s mismatches=%d images=1 accel_hw_cycles=%lu\n",
         mismatches || tuned_mismatches ? "FAIL" : "PASS", mismatches + tuned_mismatches, (unsigned long)hw);
  finish();
  return 0;
}
