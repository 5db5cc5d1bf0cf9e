/* selftest.c -- checks the Cortex-M test harness itself (startup.c, cortex-m.ld, run.sh)
 *
 *   tests/cortex-m/run.sh m4  build/cortex-m/selftest-m4.elf  tests/cortex-m/selftest.c
 *   tests/cortex-m/run.sh m55 build/cortex-m/selftest-m55.elf tests/cortex-m/selftest.c
 *
 * Returns 0 when: floating point works (the FPU was enabled before C code ran), .data and
 * .bss were set up, malloc hands out the ~200 KB the kernel tests need and fails cleanly
 * rather than growing into the stack, and on M55 the compiler targets Helium and the vector
 * unit computes. Returns the number of failed checks otherwise.
 *
 * Build with -DSELFTEST_FAULT=1 (undefined instruction), =2 (runaway recursion) or =3 (a
 * write through a NULL pointer) to check that faults are reported and exit with 127 instead
 * of hanging or corrupting memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#include <arm_mve.h>
#endif

/* The harness must keep the host's headers away from the cross compiler. */
#if defined(__has_include)
#if __has_include(<simde/simde-common.h>) || __has_include(<x86intrin.h>)
#error "host headers are visible to the cross compiler"
#endif
#endif

static int failures;

static void check(int ok, const char *what) {
  printf("  %-44s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failures++;
}

static int initialised = 42; /* .data: copied from flash by startup.c */
static int zeroed[16];       /* .bss: cleared by startup.c */

/* volatile inputs keep the compiler from folding the arithmetic away at build time */
static volatile float fa = 1.5f, fb = -2.25f, fc = 0.125f;

#if defined(SELFTEST_FAULT) && SELFTEST_FAULT == 2
static volatile int depth_limit = 1 << 30; /* never reached: RAM runs out first */
static int recurse(int depth) {
  volatile char pad[256];
  pad[0] = (char)depth;
  return depth < depth_limit ? recurse(depth + 1) + pad[0] : 0;
}
#endif

int main(void) {
  float acc = 0.0f;
  int i, all_zero = 1;
  unsigned char *big, *huge;

  printf("cortex-m selftest\n");

  check(initialised == 42, ".data initialised");
  for (i = 0; i < 16; i++) all_zero &= zeroed[i] == 0;
  check(all_zero, ".bss zeroed");

  /* float multiply-accumulate: 8 * (1.5 * -2.25 + 0.125) = -26 exactly */
  for (i = 0; i < 8; i++) acc += fa * fb + fc;
  check(acc == -26.0f, "float multiply-accumulate");
#if defined(__ARM_FP)
  check(1, "hardware FPU in use (__ARM_FP)");
#endif

  /* heap: the kernel tests allocate a few hundred KB in total */
  big = (unsigned char *)malloc(200 * 1024);
  check(big != NULL, "malloc(200 KB) succeeds");
  if (big) {
    memset(big, 0xA5, 200 * 1024);
    check(big[0] == 0xA5 && big[200 * 1024 - 1] == 0xA5, "malloc'd memory is writable");
    free(big);
  }
  huge = (unsigned char *)malloc(1024 * 1024); /* more than the whole RAM */
  check(huge == NULL, "malloc(1 MB) fails cleanly");
  free(huge);

#if defined(__ARM_FEATURE_MVE)
  check(1, "Helium enabled (__ARM_FEATURE_MVE)");
#if __ARM_FEATURE_MVE & 2
  {
    /* one Helium fused multiply-add over four lanes */
    float32x4_t v = vfmaq_f32(vdupq_n_f32(fc), vdupq_n_f32(fa), vdupq_n_f32(fb));
    check(vgetq_lane_f32(v, 0) == -3.25f && vgetq_lane_f32(v, 3) == -3.25f,
          "Helium float FMA computes");
  }
#endif
#elif defined(__ARM_ARCH_8M_MAIN__)
  check(0, "Helium enabled (__ARM_FEATURE_MVE)");
#endif

#if defined(SELFTEST_FAULT) && SELFTEST_FAULT == 1
  printf("executing an undefined instruction; expect a fault report and exit 127\n");
  __asm__ volatile("udf #0");
#elif defined(SELFTEST_FAULT) && SELFTEST_FAULT == 2
  printf("recursing without end; expect a fault report and exit 127\n");
  failures += recurse(0);
#elif defined(SELFTEST_FAULT) && SELFTEST_FAULT == 3
  {
    float *null_pointer = NULL;
    __asm__ volatile("" : "+r"(null_pointer)); /* hide the NULL from the optimiser */
    printf("writing through a NULL pointer; expect a fault report and exit 127\n");
    null_pointer[3] = 1.0f; /* would overwrite the HardFault vector */
  }
#endif

  printf("cortex-m selftest: %d failure(s)\n", failures);
  return failures;
}
