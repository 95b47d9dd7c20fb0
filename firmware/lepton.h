/* Driver for the lepton_hdl accelerator (a LiteX peripheral: DMA + CSRs + done IRQ). */
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
/* Hold (1) or resume (0) the input DMA: a held job takes no new input, so its pipeline stalls
   and lepton_wait times out if the hold outlasts it. */
void lepton_pause(int on);
/* Cycles the last run took, counted by the accelerator (start to last output word). */
uint32_t lepton_hw_cycles(void);
/* Element `i` of an output frame in DMA layout, sign-extended when the output is signed. */
int32_t lepton_output(const uint32_t *frame, int i);
/* Free-running cycle counter (LiteX timer uptime). */
uint64_t cycles_now(void);
#endif
