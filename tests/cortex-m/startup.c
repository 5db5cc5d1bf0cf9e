/* startup.c -- bare-metal start-up for Scalpel's Cortex-M tests under QEMU
 *
 * Boards (see cortex-m.ld for the memory map): mps2-an385 (M3), mps2-an386 (M4),
 * mps2-an500 (M7), mps3-an547 (M55 with Helium). Link with cortex-m.ld,
 * --specs=rdimon.specs (newlib + semihosting) and -nostartfiles; run.sh does all of this.
 *
 * From reset to main():
 *   1. Reset_Handler (naked, so no compiler-generated code runs first) grants access to the
 *      FPU / Helium unit (CPACR CP10+CP11) and, on v8-M (M55), sets the stack limit MSPLIM.
 *   2. scalpel_cm_start() sets up the MPU (code read-only; on M3/M4/M7 a guard under the
 *      stack), copies .data from flash to RAM, zeroes .bss, opens the semihosting
 *      stdin/stdout/stderr, runs the C constructors and calls exit(main()).
 *   3. newlib's exit() flushes stdio and ends QEMU with semihosting SYS_EXIT_EXTENDED, so the
 *      host sees main()'s return value as QEMU's exit status (abort() and assert give 1).
 *
 * Faults: every fault or unexpected exception lands in Fault_Handler, which prints the
 * exception, the fault status registers and the faulting PC to stderr through raw
 * semihosting (newlib's stdio may be what broke) and ends QEMU with exit status 127.
 * A stack overflow (MSPLIM or the MPU guard) and a write into the code region (the MPU)
 * fault too, instead of silently corrupting the heap or the vector table.
 *
 * Heap: malloc() grows from the end of .bss up to the bottom of the stack reservation
 * (__heap_start .. __heap_end in cortex-m.ld); a request that does not fit returns NULL. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

/* symbols defined by cortex-m.ld */
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start__[], __bss_end__[];
extern char __heap_start[], __heap_end[];
extern char __code_start[], __code_size[], __ram_start[], __stack_top[], __stack_guard[];

extern int main(void);
extern void initialise_monitor_handles(void); /* newlib rdimon: semihosting file handles */
extern void __libc_init_array(void);          /* newlib: runs .preinit_array/.init_array */

void Reset_Handler(void);
void Fault_Handler(void);
void scalpel_cm_start(void);
void scalpel_cm_fault(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr);
void *_sbrk(ptrdiff_t increment);
void _init(void);
void _fini(void);

/* ---- semihosting, used directly so that fault reports do not depend on newlib ---- */

#define SH_SYS_WRITE0 0x04u        /* print a NUL-terminated string to stderr */
#define SH_SYS_EXIT_EXTENDED 0x20u /* exit with a full status code */
#define SH_ADP_APPLICATION_EXIT 0x20026u

static uint32_t cm_semihost(uint32_t op, const void *arg) {
  register uint32_t r0 __asm__("r0") = op;
  register const void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static void cm_exit(uint32_t code) __attribute__((noreturn));
static void cm_exit(uint32_t code) {
  uint32_t block[2];
  block[0] = SH_ADP_APPLICATION_EXIT;
  block[1] = code;
  cm_semihost(SH_SYS_EXIT_EXTENDED, block);
  for (;;) {
  }
}

/* ---- vector table: the 16 system exceptions; no interrupt is ever enabled ---- */

__attribute__((section(".isr_vector"), used)) void (*const scalpel_cm_vectors[16])(void) = {
    (void (*)(void))__stack_top, /* initial main stack pointer */
    Reset_Handler,
    Fault_Handler, /*  2 NMI */
    Fault_Handler, /*  3 HardFault */
    Fault_Handler, /*  4 MemManage */
    Fault_Handler, /*  5 BusFault */
    Fault_Handler, /*  6 UsageFault */
    Fault_Handler, /*  7 SecureFault (v8-M only) */
    0, 0, 0,
    Fault_Handler, /* 11 SVCall */
    Fault_Handler, /* 12 DebugMonitor */
    0,
    Fault_Handler, /* 14 PendSV */
    Fault_Handler, /* 15 SysTick */
};

/* ---- reset ---- */

/* Naked: with a hard-float ABI the compiler may use FP registers in any C function, and
 * touching them before CPACR allows it is itself a fault (NOCP). */
__attribute__((naked, noreturn)) void Reset_Handler(void) {
  __asm__ volatile(
      "ldr r0, =__stack_top\n" /* QEMU loaded SP from the vector table; make it certain */
      "mov sp, r0\n"
#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
      "ldr r0, =0xE000ED88\n"      /* SCB->CPACR */
      "ldr r1, [r0]\n"
      "orr r1, r1, #(0xF << 20)\n" /* CP10 and CP11 (FPU, Helium): full access */
      "str r1, [r0]\n"
      "dsb\n"
      "isb\n"
#endif
#if defined(__ARM_ARCH_8M_MAIN__)
      "ldr r0, =__stack_limit\n" /* v8-M: pushing below the limit raises STKOF */
      "msr msplim, r0\n"
#endif
      "b scalpel_cm_start\n"
      ".ltorg\n");
}

/* The MPU turns two silent corruptions into faults:
 *  - writes to the code region (QEMU maps it as RAM; on a real part it is flash). A write
 *    through a NULL or stray pointer would otherwise overwrite the vector table, and the next
 *    fault would jump to garbage and lock the core up instead of being reported;
 *  - on v7-M, which has no stack-limit register, stack overflow: the lowest 1 KB of the stack
 *    reservation becomes a no-access region (frames smaller than that cannot jump over it).
 * Everything else keeps the default memory map (PRIVDEFENA). The MPU is off inside HardFault
 * (HFNMIENA = 0), so a fault can still be stacked and reported. */
static void cm_mpu_setup(void) {
#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__)
  volatile uint32_t *const mpu = (volatile uint32_t *)0xE000ED90u; /* TYPE CTRL RNR RBAR R?SR */
  const uint32_t code = (uint32_t)(uintptr_t)__code_start;
  const uint32_t size = (uint32_t)(uintptr_t)__code_size; /* a power of two, base aligned */
  if (((mpu[0] >> 8) & 0xFFu) < 2) return;                 /* fewer than two MPU regions */
  mpu[2] = 0; /* region 0: the code region, read-only and executable */
#if defined(__ARM_ARCH_8M_MAIN__)
  /* PMSAv8: base | AP = read-only at any privilege; limit | attribute 0 | enable */
  ((volatile uint32_t *)0xE000EDC0u)[0] = 0x44u; /* MAIR0 attribute 0: normal, non-cacheable */
  mpu[3] = code | (3u << 1);
  mpu[4] = ((code + size - 1u) & ~0x1Fu) | 1u;
#else
  {
    /* PMSAv7: SIZE field n means 2^(n+1) bytes; AP = 6 read-only; TEX 0, C: normal memory */
    uint32_t n = 0;
    while ((2u << n) < size) n++;
    mpu[3] = code;
    mpu[4] = (6u << 24) | (1u << 17) | (n << 1) | 1u;
  }
  mpu[2] = 1; /* region 1: the stack guard, no access, never executable */
  mpu[3] = (uint32_t)(uintptr_t)__stack_guard;   /* aligned to 1 KB by cortex-m.ld */
  mpu[4] = (1u << 28) | (9u << 1) | 1u;          /* XN, AP = 0, 2^(9+1) bytes, enable */
#endif
  mpu[1] = (1u << 2) | 1u; /* PRIVDEFENA, ENABLE */
  __asm__ volatile("dsb\n isb" ::: "memory");
#endif
}

void scalpel_cm_start(void) {
  uint32_t *src = __data_load, *dst = __data_start;
  cm_mpu_setup();
  while (dst < __data_end) *dst++ = *src++;
  for (dst = __bss_start__; dst < __bss_end__;) *dst++ = 0;
  initialise_monitor_handles();
  __libc_init_array();
  exit(main());
}

/* -nostartfiles drops crti.o/crtn.o, which would define these for __libc_init_array */
void _init(void) {}
void _fini(void) {}

/* ---- heap for newlib's malloc: [__heap_start, __heap_end), never into the stack ---- */

void *_sbrk(ptrdiff_t increment) {
  static char *brk = __heap_start;
  char *old = brk;
  if (increment > __heap_end - brk || increment < __heap_start - brk) {
    errno = ENOMEM;
    return (void *)-1;
  }
  brk += increment;
  return old;
}

/* ---- faults ---- */

/* Hands the exception frame, EXC_RETURN and IPSR to the C reporter on a fresh stack: the
 * fault may have been a stack overflow, and we exit afterwards anyway. */
__attribute__((naked, noreturn)) void Fault_Handler(void) {
  __asm__ volatile(
      "tst lr, #4\n" /* EXC_RETURN bit 2: the frame was pushed on PSP, not MSP */
      "ite eq\n"
      "mrseq r0, msp\n"
      "mrsne r0, psp\n"
      "mov r1, lr\n"
      "mrs r2, ipsr\n"
#if defined(__ARM_ARCH_8M_MAIN__)
      "movs r3, #0\n" /* lift the stack limit before moving SP */
      "msr msplim, r3\n"
#endif
      "ldr r3, =__stack_top\n"
      "mov sp, r3\n"
      "b scalpel_cm_fault\n"
      ".ltorg\n");
}

static char *cm_put_str(char *p, const char *s) {
  while (*s) *p++ = *s++;
  return p;
}

static char *cm_put_hex(char *p, uint32_t v) {
  int shift;
  *p++ = '0';
  *p++ = 'x';
  for (shift = 28; shift >= 0; shift -= 4) *p++ = "0123456789abcdef"[(v >> shift) & 0xFu];
  return p;
}

static const char *cm_exception_name(uint32_t n) {
  switch (n) {
  case 2: return "NMI";
  case 3: return "HardFault";
  case 4: return "MemManage";
  case 5: return "BusFault";
  case 6: return "UsageFault";
  case 7: return "SecureFault";
  case 11: return "SVCall";
  case 12: return "DebugMonitor";
  case 14: return "PendSV";
  case 15: return "SysTick";
  default: return n >= 16 ? "IRQ" : "reserved";
  }
}

void scalpel_cm_fault(const uint32_t *frame, uint32_t exc_return, uint32_t ipsr) {
  volatile const uint32_t *scb = (volatile const uint32_t *)0xE000ED00u;
  const uint32_t cfsr = scb[0x28 / 4], n = ipsr & 0x1FFu;
  /* MSTKERR, BusFault STKERR or UsageFault STKOF: the stack ran out (MPU guard or MSPLIM) */
  const int overflow = (cfsr & ((1u << 4) | (1u << 12) | (1u << 20))) != 0;
  /* MMARVALID + DACCVIOL at an address in the (read-only) code region */
  const uint32_t mmfar = scb[0x34 / 4];
  const int code_write = (cfsr & 0x82u) == 0x82u &&
                         mmfar - (uint32_t)(uintptr_t)__code_start < (uint32_t)(uintptr_t)__code_size;
  const uintptr_t f = (uintptr_t)frame;
  char msg[256], *p = msg;

  p = cm_put_str(p, "\nFAULT: ");
  p = cm_put_str(p, cm_exception_name(n));
  p = cm_put_str(p, " (exception ");
  p = cm_put_hex(p, n);
  p = cm_put_str(p, ") CFSR=");
  p = cm_put_hex(p, cfsr);
  p = cm_put_str(p, " HFSR=");
  p = cm_put_hex(p, scb[0x2C / 4]);
  p = cm_put_str(p, " MMFAR=");
  p = cm_put_hex(p, mmfar);
  p = cm_put_str(p, " BFAR=");
  p = cm_put_hex(p, scb[0x38 / 4]);
  p = cm_put_str(p, " EXC_RETURN=");
  p = cm_put_hex(p, exc_return);
  /* The frame holds r0-r3, r12, lr, pc, xpsr. Read it only when it was written and lies in
   * RAM: a second fault inside this handler would lock the core up instead of exiting. */
  if (overflow) {
    p = cm_put_str(p, " -- stack overflow (__stack_size in cortex-m.ld)");
  } else if (f % 4 == 0 && f >= (uintptr_t)__ram_start && f + 32 <= (uintptr_t)__stack_top) {
    p = cm_put_str(p, " PC=");
    p = cm_put_hex(p, frame[6]);
    p = cm_put_str(p, " LR=");
    p = cm_put_hex(p, frame[5]);
  }
  if (code_write) p = cm_put_str(p, " -- write into the code region (NULL or stray pointer?)");
  p = cm_put_str(p, "\n");
  *p = '\0';
  cm_semihost(SH_SYS_WRITE0, msg);
  cm_exit(127);
}
