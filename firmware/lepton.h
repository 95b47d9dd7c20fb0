/* Driver for the lepton_hdl accelerator (a LiteX peripheral: DMA + CSRs + done IRQ, or the
   CPU-fed stream port where the SoC has no room for DMA: the driver then pushes the input words
   and pops the output words itself, from lepton_run to the end of lepton_wait). */
#ifndef LEPTON_DRIVER_H
#define LEPTON_DRIVER_H
#include <stdint.h>

/* Start streaming `frames` input frames from `src` to `dst` (both in main RAM). */
void lepton_run(const void *src, void *dst, uint32_t frames);
/* Wait for done; returns 0, or -1 if the accelerator did not finish within `timeout_cycles`
   (it then prints the status instead of hanging). */
int lepton_wait(uint64_t timeout_cycles);
/* Stop the running job at once (a timeout, a new request): the accelerator is reset, weights
   kept, and the next lepton_run is exact. Returns 0, or -1 if it did not complete. */
int lepton_abort(void);
/* Hold (1) or resume (0) the input DMA (the CPU-fed port: the driver's pushes): a held job takes no new input, so its pipeline stalls
   and lepton_wait times out if the hold outlasts it. */
void lepton_pause(int on);
/* Weights in RAM (a build compiled with --weights ram; LEPTON_PARAM_WORDS defined): load a
   weight image (lepton-hdl weights MODEL --for BUILD_DIR) into the accelerator. The header is
   checked first (magic, format, the build's topology, size, CRC-32 of the payload): a bad image
   changes nothing and the old weights stay in use. The next frame runs on the new weights; no
   dummy frame is needed. Returns 0 or a LEPTON_E* code. `image` must be 4-byte aligned. */
enum {
  LEPTON_OK = 0, LEPTON_EMAGIC = -1, LEPTON_EVERSION = -2, LEPTON_ETOPOLOGY = -3, LEPTON_ESIZE = -4,
  LEPTON_ECHECKSUM = -5, LEPTON_EBUSY = -6, LEPTON_ETIMEOUT = -7, LEPTON_ENOTRAM = -8
};
int lepton_load_weights(const void *image, uint32_t len);
/* The error code's name ("checksum", ...). */
const char *lepton_strerror(int code);
/* Cycles the last run took, counted by the accelerator (start to last output word). */
uint32_t lepton_hw_cycles(void);
/* Element `i` of an output frame in DMA layout, sign-extended when the output is signed. */
int32_t lepton_output(const uint32_t *frame, int i);
/* Free-running cycle counter (LiteX timer uptime; without it, timer0 free-running). */
uint64_t cycles_now(void);
#endif
