#!/bin/sh
# run.sh -- build a test program for an emulated Cortex-M core and run it under QEMU
#
# usage:
#   tests/cortex-m/run.sh CORE OUT.elf SRC.c [more sources and flags]   build, then run
#   tests/cortex-m/run.sh CORE OUT.elf                                  run an existing ELF
#   tests/cortex-m/run.sh build CORE OUT.elf SRC.c [...]                build only
#   tests/cortex-m/run.sh count CORE OUT.elf [SRC.c ...]                (build,) run, and count
#                                                                       executed instructions
# CORE: m3 (mps2-an385), m4 (mps2-an386), m7 (mps2-an500), m55 (mps3-an547, Helium).
#
# The program is an ordinary main() that returns 0 on success. It is compiled with -O2 -std=c99
# -Wall -Wextra -Werror, newlib with semihosting (--specs=rdimon.specs), and our own startup.c
# and cortex-m.ld. Flags given after the sources override ours (-O3, -U..., -Wno-...), and
# their -I directories are searched before the repo root (-I<root> comes last), so
# `run.sh m4 x.elf test.c -Idist` tests the amalgamated header. CORTEX_M_LD=path selects another
# linker script (tests/cortex-m/cortex-m-4mb.ld: 4 MB of code and RAM on the M3/M4/M7 boards).
# Guest stdout/stderr appear on the host. One result line follows the program's output.
#
# Exit status: main()'s return value; 1 for assert()/abort(); 127 for a CPU fault (startup.c
# prints the fault registers); 124 when $QEMU_TIMEOUT seconds (default 300) run out; 125 when
# the program could not be built or the count plugin is unavailable; 2 for a usage error.
#
# count: executed instructions (exact) and an estimated cycle count from the team's QEMU plugin,
# built from $INSNCOUNT_SRC (default: ../shared/tools/cortex-m/insncount.c beside the clone) into
# build/cortex-m/insncount.so. If the program defines bench_start() and bench_stop()
#   __attribute__((noinline)) void bench_start(void) { __asm__ volatile("" ::: "memory"); }
# the work between each start/stop pair is reported too. Cycle model: m55 for m55, m4 otherwise.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

usage() {
  sed -n '4,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

MODE=run
case "${1:-}" in build | count) MODE=$1; shift ;; esac
[ $# -ge 2 ] || usage
CORE=$1
ELF=$2
shift 2

# -mcpu/-mfpu/-mfloat-abi per core, and the QEMU board that has that core
case "$CORE" in
  m3)  CPU="-mcpu=cortex-m3 -mthumb -mfloat-abi=soft"
       BOARD=mps2-an385 QCPU=cortex-m3 ;;
  m4)  CPU="-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard"
       BOARD=mps2-an386 QCPU=cortex-m4 ;;
  m7)  CPU="-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard"
       BOARD=mps2-an500 QCPU=cortex-m7 ;;
  m55) CPU="-mcpu=cortex-m55 -mthumb -mfpu=auto -mfloat-abi=hard"   # auto: FPU + Helium float
       BOARD=mps3-an547 QCPU=cortex-m55 ;;
  *) echo "run.sh: unknown core '$CORE' (m3|m4|m7|m55)" >&2; exit 2 ;;
esac

build() {
  # The cross compiler must never pick up the host's headers (/usr/include holds glibc and
  # x86 headers): drop the environment variables that add search paths, then confirm from
  # the compiler's own report that no host include directory is on its search list.
  unset CPATH C_INCLUDE_PATH CPLUS_INCLUDE_PATH OBJC_INCLUDE_PATH
  mkdir -p "$(dirname "$ELF")"
  # shellcheck disable=SC2086 # $CPU is a list of flags
  host=$(arm-none-eabi-gcc $CPU "$@" -I"$ROOT" -E -v -x c /dev/null 2>&1 >/dev/null |
         sed -n '/search starts here/,/End of search list/p' |
         grep -E '^ /usr/(local/)?include(/|$)' | sort -u || true)
  if [ -n "$host" ]; then
    echo "run.sh: the flags put host header directories on the cross compiler's search path:" >&2
    echo "$host" >&2
    return 1
  fi
  # -I"$ROOT" goes after the caller's flags so that e.g. -Idist (the amalgamated header) wins
  # shellcheck disable=SC2086
  arm-none-eabi-gcc $CPU -O2 -g -std=c99 -Wall -Wextra -Werror \
    -ffunction-sections -fdata-sections \
    --specs=rdimon.specs -nostartfiles -L"$HERE" -T "${CORTEX_M_LD:-$HERE/cortex-m.ld}" -Wl,--gc-sections \
    "$HERE/startup.c" "$@" -I"$ROOT" -lm -o "$ELF"
}

# QEMU with semihosting; stdin closed so nothing waits for a terminal
qemu() {
  timeout -k 10 "${QEMU_TIMEOUT:-300}" qemu-system-arm -M "$BOARD" -cpu "$QCPU" \
    -display none -monitor none -serial none -semihosting-config enable=on,target=native \
    -kernel "$ELF" "$@" </dev/null
}

# one result line, then exit with the program's status
report() {
  rc=$1 secs=$2 extra=${3:-}
  case $rc in
    0) verdict=PASS ;;
    124) verdict="TIMEOUT after ${QEMU_TIMEOUT:-300} s" ;;
    127) verdict=FAULT ;;
    134) verdict="FAIL (QEMU aborted: core lockup?)" ;;
    *) verdict=FAIL ;;
  esac
  echo "cortex-m $CORE ($BOARD): $verdict $(basename "$ELF") exit=$rc ${secs}s$extra"
  exit "$rc"
}

if [ $# -gt 0 ]; then
  if ! build "$@"; then
    echo "cortex-m $CORE ($BOARD): BUILD FAILED $(basename "$ELF") exit=125"
    exit 125
  fi
elif [ "$MODE" = build ]; then
  usage
fi
[ "$MODE" = build ] && exit 0
if [ ! -f "$ELF" ]; then
  echo "run.sh: $ELF does not exist (give sources to build it)" >&2
  exit 2
fi

start=$(date +%s)
if [ "$MODE" = run ]; then
  set +e; qemu; rc=$?; set -e
  report "$rc" $(($(date +%s) - start))
fi

# ---- count mode ----
SRC=${INSNCOUNT_SRC:-$ROOT/../shared/tools/cortex-m/insncount.c}
PLUGIN=$ROOT/build/cortex-m/insncount.so
if [ ! -f "$SRC" ]; then
  echo "run.sh count: the instruction-count plugin source $SRC is missing;" >&2
  echo "  it lives in the team's shared kit (shared/tools/cortex-m/insncount.c beside the" >&2
  echo "  clone); set INSNCOUNT_SRC=/path/to/insncount.c to use another copy" >&2
  exit 125
fi
# shellcheck disable=SC3013 # -nt: not POSIX, but dash and bash both have it
if [ ! -f "$PLUGIN" ] || [ "$SRC" -nt "$PLUGIN" ]; then
  mkdir -p "$(dirname "$PLUGIN")"
  # build beside and rename, so that parallel runs never load a half-written plugin
  cc -shared -fPIC -O2 -o "$PLUGIN.$$" "$SRC" && mv -f "$PLUGIN.$$" "$PLUGIN" || exit 125
fi
case "$CORE" in m55) MODEL="m55" ;; *) MODEL="m4" ;; esac
ARGS="model=$MODEL"
S=$(arm-none-eabi-nm "$ELF" | awk '$3 == "bench_start" { print "0x" $1 }')
E=$(arm-none-eabi-nm "$ELF" | awk '$3 == "bench_stop" { print "0x" $1 }')
[ -n "$S" ] && [ -n "$E" ] && ARGS="$ARGS,start=$S,stop=$E"
COUNTS=$(mktemp)
trap 'rm -f "$COUNTS"' EXIT
set +e; qemu -plugin "$PLUGIN,$ARGS,out=$COUNTS"; rc=$?; set -e
cat "$COUNTS"
report "$rc" $(($(date +%s) - start)) " (cycle model $MODEL)"
