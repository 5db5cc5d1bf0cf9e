#!/bin/sh
# run_all.sh - every test of the project, as `make test` runs it. Ends with "N passed, N failed".
#
#   1. host tests under AddressSanitizer + UndefinedBehaviorSanitizer (format, kernels,
#      every layer kind from the kind table (test_layers: reference, skip, fixed point,
#      training and gradients, model file, C export compiled back by layers_export_check),
#      allocator hooks, SCALPEL_NO_MALLOC, networks, pruning, model files, planner, safetensors
#      against numpy and PyTorch outputs, Debian's /usr/bin/python3), the converters from
#      PyTorch and ONNX (tests/test_convert.py), pruning in PyTorch against the C library and
#      under torchrun with two processes (tests/test_torch_prune.py), files (special files in
#      and out, permissions, temporaries, a full disk, concurrent writers, forged sizes), the
#      network benchmark
#   2. the kernel tests on every backend this machine runs: -march=native (AVX-512 here),
#      AVX2, baseline x86-64 (SSE2), SCALPEL_NO_SIMD; gcc, clang and g++
#   3. the compile matrix: gcc and clang -std=c99 -pedantic -Wall -Wextra -Werror and g++,
#      headers included twice, SCALPEL_STATIC / NO_SIMD / NO_MALLOC, modules alone, and the
#      builds that must fail (half an allocator override, a removed function under NO_MALLOC),
#      and an exported model header compiled as C and C++ with SCALPEL_NO_MALLOC; the names the
#      export refuses (with the reason) and accepts (headers compiled as C99 to C++20)
#   4. dist/scalpel.h from amalgamate.py, and the tests again against it (optimised builds:
#      the sanitizers ran over the same code in step 1)
#   5. libFuzzer on the grouped-CSR and safetensors readers (FUZZ_SECONDS, default 30), on
#      the model-file reader (FUZZ_NET_SECONDS, default 60), and on the checkpoint reader with
#      a training step after it (FUZZ_CHECKPOINT_SECONDS, default 20); the N:M and checkpoint
#      harnesses run under -timeout, so that work a header's counts ask for beyond the bytes
#      present (a loop over 2^31 rows, 2^60 learning-rate drops) fails the step
#   6. AArch64 NEON (cross-compiled, qemu-aarch64) and Cortex-M4 / M55 (qemu-system-arm),
#      including the firmware that runs an exported LeNet-300-100 with no malloc
#   6b. the GPU backend: scalpel_cuda.cu and the headers through nvcc, the GPU test (which
#      skips cleanly without a GPU) and a host emulation of every CUDA kernel's arithmetic
#   7. the examples, built with the single cc command the README gives, the example in each
#      header's top comment, and the command-line tool's test script
#
# Each step prints one line; failures show their output. Exit status 0 only if all passed.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
B=build/test
mkdir -p "$B"
PASSED=0
FAILED=0
FAILED_NAMES=""
WARN="-std=c99 -pedantic -Wall -Wextra -Werror"
SAN="-O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
NATIVE="-march=native"
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_NET_SECONDS=${FUZZ_NET_SECONDS:-60}
FUZZ_CHECKPOINT_SECONDS=${FUZZ_CHECKPOINT_SECONDS:-20}

# run NAME CMD...: run a step; a test program's own "N passed, M failed" counts are added in,
# a step without such a line counts as one check.
run() {
  name=$1; shift
  log="$B/$name.log"
  t0=$(date +%s)
  if "$@" >"$log" 2>&1; then ok=1; else ok=0; fi
  secs=$(( $(date +%s) - t0 ))
  counts=$(grep -E '^[A-Za-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$counts" ]; then
    p=$(echo "$counts" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(echo "$counts" | sed -E 's/.*: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
    if [ "$ok" = 0 ] && [ "$f" = 0 ]; then f=1; fi
  else
    if [ "$ok" = 1 ]; then p=1; f=0; else p=0; f=1; fi
  fi
  PASSED=$((PASSED + p)); FAILED=$((FAILED + f))
  if [ "$ok" = 1 ] && [ "$f" = 0 ]; then
    printf '  ok    %-34s %5ss %s\n' "$name" "$secs" "${counts:+($p checks)}"
  else
    printf '  FAIL  %-34s %5ss (see %s)\n' "$name" "$secs" "$log"
    tail -n 25 "$log" | sed 's/^/        /'
    FAILED_NAMES="$FAILED_NAMES $name"
  fi
}

# run_bg NAME CMD...: the same step started in the background, so that two single-threaded
# steps (the fuzzers) use both cores; join_bg waits for the steps started and reports them in
# the order they were started. Steps run together must not write the same files.
BG_NAMES=""
run_bg() {
  bg_name=$1
  rm -f "$B/$bg_name.counts" "$B/$bg_name.report"
  ( PASSED=0; FAILED=0; FAILED_NAMES=""; run "$@" >"$B/$bg_name.report"; echo "$PASSED $FAILED" >"$B/$bg_name.counts" ) &
  BG_NAMES="$BG_NAMES $bg_name"
}
join_bg() {
  wait
  for bg_name in $BG_NAMES; do
    cat "$B/$bg_name.report"
    bg_p=0; bg_f=1
    if [ -f "$B/$bg_name.counts" ]; then read -r bg_p bg_f <"$B/$bg_name.counts"; fi
    PASSED=$((PASSED + bg_p)); FAILED=$((FAILED + bg_f))
    if [ "$bg_f" != 0 ]; then FAILED_NAMES="$FAILED_NAMES $bg_name"; fi
  done
  BG_NAMES=""
}

# par NAME CMD...: a step run in a pool of two (the machine has two cores and nearly every
# step is one single-threaded compile and run): it starts as soon as fewer than two are
# running (a step is done when its counts file exists); par_wait waits for all of them and
# reports them in the order they started. Steps run side by side write only their own files:
# each test that writes gets its own directory. A step that needs another's output comes
# after a par_wait.
par_running() {
  n=0
  for nm in $BG_NAMES; do [ -f "$B/$nm.counts" ] || n=$((n + 1)); done
  echo "$n"
}
par() {
  while [ "$(par_running)" -ge 2 ]; do sleep 0.2; done
  run_bg "$@"
}
par_wait() {
  if [ -n "$BG_NAMES" ]; then join_bg; fi
}

# full NAME CMD...: a step that repeats another's checks with a second compiler (clang beside
# gcc under the sanitizers, the tool's script under a clang build) or on a second backend
# (AlexNet layer by layer on NEON under QEMU): run like par with SCALPEL_TEST_FULL=1 (make
# test-full), else named at the end as left to make test-full, so that make test stays well
# inside its time on a 2-core machine.
FULL=${SCALPEL_TEST_FULL:-0}
FULL_ONLY=""
full() {
  if [ "$FULL" = 1 ]; then par "$@"; else FULL_ONLY="$FULL_ONLY $1"; fi
}

# must_fail NAME CMD...: a build that has to be refused (prints what it must say)
must_fail() {
  name=$1; expect=$2; shift 2
  log="$B/$name.log"
  if "$@" >"$log" 2>&1; then
    echo "expected this build to fail" >>"$log"; run "$name" false
  elif [ -n "$expect" ] && ! grep -q "$expect" "$log"; then
    echo "failed, but without: $expect" >>"$log"; run "$name" false
  else
    run "$name" true
  fi
}

have() { command -v "$1" >/dev/null 2>&1; }

echo "== dependencies"
if ! sh tools/deps.sh test; then
  echo "tools/deps.sh could not provide what the tests need (see above)."
  echo "0 passed, 1 failed"
  exit 1
fi

echo "== 1. host tests under ASan + UBSan"
for t in test_format test_kernels test_alloc test_no_malloc test_net test_prune test_nm; do
  par "$t-asan" sh -c "gcc $WARN $SAN $NATIVE -I. tests/$t.c -o $B/$t-asan -lm && $B/$t-asan"
done

par_wait
run safetensors-data sh -c "rm -rf $B/st && /usr/bin/python3 tests/make_safetensors.py $B/st"
par test_safetensors-asan sh -c "gcc $WARN $SAN $NATIVE -I. tests/test_safetensors.c -o $B/test_safetensors-asan -lm && $B/test_safetensors-asan $B/st"
full test_safetensors-clang-asan sh -c "clang $WARN $SAN $NATIVE -I. tests/test_safetensors.c -o $B/test_safetensors-clang -lm && $B/test_safetensors-clang $B/st"
par test_safetensors-g++ sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 -x c++ -I. tests/test_safetensors.c -o $B/test_safetensors-pp && $B/test_safetensors-pp $B/st"

par test_netfile-asan sh -c "mkdir -p $B/nf-asan && gcc $WARN $SAN $NATIVE -I. tests/test_netfile.c -o $B/test_netfile-asan -lm && $B/test_netfile-asan $B/nf-asan"
full netfile-clang-asan sh -c "mkdir -p $B/nf-clang && clang $WARN $SAN $NATIVE -I. tests/test_netfile.c -o $B/test_netfile-clang -lm && $B/test_netfile-clang $B/nf-clang"
par test_files-asan sh -c "mkdir -p $B/files-asan && gcc $WARN $SAN $NATIVE -I. tests/test_files.c -o $B/test_files-asan -lm && timeout 300 $B/test_files-asan $B/files-asan"
par netfile-no-posix-files sh -c "mkdir -p $B/nf-np && gcc $WARN -O1 $NATIVE -DSCALPEL_NO_POSIX_FILES -I. tests/test_netfile.c -o $B/test_netfile-np -lm && $B/test_netfile-np $B/nf-np"
par netfile-g++ sh -c "mkdir -p $B/nf-pp && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_netfile.c -o $B/test_netfile-pp && $B/test_netfile-pp $B/nf-pp"

par test_decomp-asan sh -c "gcc $WARN $SAN $NATIVE -I. tests/test_decomp.c -o $B/test_decomp-asan -lm && $B/test_decomp-asan"
par decomp-g++ sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_decomp.c -o $B/decomp-pp && $B/decomp-pp"
par decomp-no-simd sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_decomp.c -o $B/decomp-ns -lm && $B/decomp-ns"
par test_plan-asan sh -c "gcc $WARN $SAN $NATIVE -I. tests/test_plan.c -o $B/test_plan-asan -lm && $B/test_plan-asan"
full plan-clang-asan sh -c "clang $WARN $SAN $NATIVE -I. tests/test_plan.c -o $B/plan-clang -lm && $B/plan-clang"
par plan-g++ sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_plan.c -o $B/plan-gpp && $B/plan-gpp"
par plan-sse2 sh -c "gcc $WARN -O2 -I. tests/test_plan.c -o $B/plan-sse2 -lm && $B/plan-sse2"
par plan-no-simd sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_plan.c -o $B/plan-nosimd -lm && $B/plan-nosimd"
par bench-net-smoke sh -c "gcc $WARN -O2 $NATIVE -I. bench/bench_net.c -o $B/bench_net -lm && BENCH_REPEATS=7 BENCH_MIN_MS=1 $B/bench_net >/dev/null"

par test_qkernels-asan sh -c "gcc $WARN $SAN $NATIVE -I. tests/test_qkernels.c -o $B/tqk-asan -lm && $B/tqk-asan"
par qkernels-no-simd sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_qkernels.c -o $B/tqk-ns -lm && $B/tqk-ns"
par qkernels-clang-g++ sh -c "clang $WARN -O2 $NATIVE -I. tests/test_qkernels.c -o $B/tqk-cl -lm && $B/tqk-cl && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -x c++ -I. tests/test_qkernels.c -o $B/tqk-pp && $B/tqk-pp"
par q-tables /usr/bin/python3 tools/gen_q_tables.py --check scalpel_kernels.h
par test_qnet-asan sh -c "mkdir -p $B/qnet-asan && gcc $WARN $SAN $NATIVE -I. tests/test_qnet.c -o $B/tqn-asan -lm && $B/tqn-asan $B/qnet-asan"
par qnet-no-simd-g++ sh -c "mkdir -p $B/qnet-ns && gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_qnet.c -o $B/tqn-ns -lm && $B/tqn-ns $B/qnet-ns && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -x c++ -I. tests/test_qnet.c -o $B/tqn-pp && $B/tqn-pp $B/qnet-ns"
par test_qops-asan sh -c "mkdir -p $B/qops-asan && gcc $WARN $SAN $NATIVE -I. tests/test_qops.c -o $B/tqo-asan -lm && $B/tqo-asan $B/qops-asan"
par qops-no-simd-g++ sh -c "mkdir -p $B/qops-ns && gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_qops.c -o $B/tqo-ns -lm && $B/tqo-ns $B/qops-ns && gcc $WARN -O2 $NATIVE -DSCALPEL__Q_CONV_WHOLE=0 -I. tests/test_qops.c -o $B/tqo-blk -lm && $B/tqo-blk $B/qops-ns && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -x c++ -I. tests/test_qops.c -o $B/tqo-pp && $B/tqo-pp $B/qops-ns"
par gen-qnet-firmware sh -c "mkdir -p $B/fw && gcc $WARN -O2 $NATIVE -I. tests/gen_qnet_firmware.c -o $B/gen_qnet_firmware -lm && $B/gen_qnet_firmware $B/fw"
par gen-mlperf-firmware sh -c "mkdir -p $B/mlperf && gcc $WARN -O2 $NATIVE -I. tests/gen_mlperf_firmware.c -o $B/gen_mlperf_firmware -lm && $B/gen_mlperf_firmware $B/mlperf --pruned"
par_wait
par qnet-export-header sh -c "gcc $WARN -O1 $NATIVE -DSCALPEL_NO_MALLOC -I$B/fw -I. tests/cortex-m/qnet_firmware.c -o $B/fw/qnet-host -lm && $B/fw/qnet-host && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 -DSCALPEL_NO_MALLOC -DSCALPEL_NO_SIMD -x c++ -I$B/fw -I. tests/cortex-m/qnet_firmware.c -o $B/fw/qnet-host-pp && $B/fw/qnet-host-pp"
par test_train-asan sh -c "gcc $WARN $SAN -fsanitize=float-cast-overflow $NATIVE -I. tests/test_train.c -o $B/test_train-asan -lm && $B/test_train-asan"
par train-g++ sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_train.c -o $B/train-pp && $B/train-pp"
par train-openmp sh -c "gcc $WARN -O2 $NATIVE -fopenmp -I. tests/test_train.c -o $B/train-omp -lm && OMP_NUM_THREADS=2 $B/train-omp"
par test_data-asan sh -c "mkdir -p $B/data-asan && gcc $WARN $SAN $NATIVE -DSCALPEL_ZLIB -I. tests/test_data.c -o $B/test_data-asan -lz -lm && TMPDIR=$B/data-asan $B/test_data-asan \${SCALPEL_MNIST_DIR:--}"
par test_data-no-zlib sh -c "mkdir -p $B/data-nz && gcc $WARN -O1 -I. tests/test_data.c -o $B/test_data-nozlib -lm && TMPDIR=$B/data-nz $B/test_data-nozlib -"
par test_models sh -c "gcc $WARN -O2 $NATIVE -DSCALPEL_ZLIB -I. tests/test_models.c -o $B/test_models -lz -lm && $B/test_models models \${SCALPEL_MNIST_DIR:-../shared/data/mnist} \${SCALPEL_FASHION_MNIST_DIR:-../shared/data/fashion-mnist}"
par test_layers-asan sh -c "mkdir -p $B/layers && gcc $WARN $SAN $NATIVE -I. tests/test_layers.c -o $B/test_layers-asan -lm && $B/test_layers-asan $B/layers"
par_wait
par layers-export-check sh -c "gcc $WARN -O2 $NATIVE -DSCALPEL_NO_MALLOC -I. -I$B/layers tests/layers_export_check.c -o $B/layers-check -lm && $B/layers-check && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -DSCALPEL_NO_MALLOC -x c++ -I. -I$B/layers tests/layers_export_check.c -o $B/layers-check-pp && $B/layers-check-pp"
par test_layers-g++ sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_layers.c -o $B/test_layers-pp && $B/test_layers-pp"
par test_layers-no-simd sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_layers.c -o $B/test_layers-ns -lm && $B/test_layers-ns"
par torch-ops sh -c "cc -O2 $NATIVE -I. examples/scalpel_cli.c -o $B/scalpel-torch-ops -lm && SCALPEL_CLI=$B/scalpel-torch-ops /usr/bin/python3 tests/test_torch_ops.py"
par convert sh -c "cc -O2 $NATIVE -I. examples/scalpel_cli.c -o $B/scalpel-convert -lm && SCALPEL_CLI=$B/scalpel-convert /usr/bin/python3 tests/test_convert.py"
par torch-prune sh -c "cc -O2 $NATIVE -I. examples/scalpel_cli.c -o $B/scalpel-torch-prune -lm && SCALPEL_CLI=$B/scalpel-torch-prune /usr/bin/python3 tests/test_torch_prune.py"
par test_ops-asan sh -c "mkdir -p $B/ops-asan && gcc $WARN $SAN $NATIVE -I. tests/test_ops.c -o $B/test_ops-asan -lm && $B/test_ops-asan $B/ops-asan"
par test_ops-no-simd-g++ sh -c "mkdir -p $B/ops-ns && gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_ops.c -o $B/test_ops-ns -lm && $B/test_ops-ns $B/ops-ns && g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_ops.c -o $B/test_ops-pp && $B/test_ops-pp $B/ops-ns"
par test_drivers sh -c "mkdir -p $B/drivers && gcc $WARN -O2 $NATIVE -I. tests/test_drivers.c -o $B/test_drivers -lm && $B/test_drivers $B/drivers"

par_wait
echo "== 2. kernels on every backend"
par kernels-gcc-native   sh -c "gcc $WARN -O2 $NATIVE -I. tests/test_kernels.c -o $B/k1 -lm && $B/k1"
par kernels-gcc-avx2     sh -c "gcc $WARN -O2 -mavx2 -mfma -I. tests/test_kernels.c -o $B/k2 -lm && $B/k2"
par nm-gcc-native        sh -c "gcc $WARN -O2 $NATIVE -I. tests/test_nm.c -o $B/tnm1 -lm && $B/tnm1"
par nm-gcc-avx2          sh -c "gcc $WARN -O2 -mavx2 -mfma -I. tests/test_nm.c -o $B/tnm2 -lm && $B/tnm2"
par nm-clang-avx2-asan   sh -c "clang $WARN $SAN -mavx2 -mfma -I. tests/test_nm.c -o $B/tnm2a -lm && $B/tnm2a"
par nm-gcc-sse2          sh -c "gcc $WARN -O2 -I. tests/test_nm.c -o $B/tnm3 -lm && $B/tnm3"
par nm-gcc-no-simd       sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_nm.c -o $B/tnm4 -lm && $B/tnm4"
par nm-g++               sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -x c++ -I. tests/test_nm.c -o $B/tnm7 && $B/tnm7"
par kernels-clang-avx2-asan sh -c "clang $WARN $SAN -mavx2 -mfma -I. tests/test_kernels.c -o $B/k2a -lm && $B/k2a"
par kernels-gcc-avx      sh -c "gcc $WARN -O2 -mavx -I. tests/test_kernels.c -o $B/k2b -lm && $B/k2b"
par kernels-gcc-sse2     sh -c "gcc $WARN -O2 -I. tests/test_kernels.c -o $B/k3 -lm && $B/k3"
par kernels-gcc-no-simd  sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_kernels.c -o $B/k4 -lm && $B/k4"
par kernels-clang-native sh -c "clang $WARN -O2 $NATIVE -I. tests/test_kernels.c -o $B/k5 -lm && $B/k5"
par kernels-clang-asan   sh -c "clang $WARN $SAN $NATIVE -I. tests/test_kernels.c -o $B/k6 -lm && $B/k6"
par kernels-g++-native   sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -x c++ -I. tests/test_kernels.c -o $B/k7 && $B/k7"
par net-g++              sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 $NATIVE -x c++ -I. tests/test_net.c -o $B/n7 && $B/n7"
full prune-clang-asan     sh -c "clang $WARN $SAN $NATIVE -I. tests/test_prune.c -o $B/prune-clang-asan -lm && $B/prune-clang-asan"
par prune-g++            sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 -x c++ -I. tests/test_prune.c -o $B/prune-gpp && $B/prune-gpp"
par prune-no-simd        sh -c "gcc $WARN -O2 -DSCALPEL_NO_SIMD -I. tests/test_prune.c -o $B/prune-nosimd -lm && $B/prune-nosimd"
par format-g++           sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O1 -x c++ -I. tests/test_format.c -o $B/f7 && $B/f7"

par_wait
echo "== 3. compile matrix"
for cc in gcc clang; do
  for flags in "" "$NATIVE" "-mavx2 -mfma" "-DSCALPEL_STATIC" "-DSCALPEL_NO_SIMD" "-DSCALPEL_NO_MALLOC"; do
    tag=$(echo "$cc$flags" | tr -c 'A-Za-z0-9\n' '_')
    par "twice-$tag" sh -c "$cc $WARN -O2 $flags -I. tests/compile_twice.c -o $B/t-$tag -lm && $B/t-$tag"
  done
done
for flags in "" "$NATIVE" "-DSCALPEL_NO_SIMD" "-DSCALPEL_NO_MALLOC"; do
  tag=$(echo "g++$flags" | tr -c 'A-Za-z0-9\n' '_')
  par "twice-$tag" sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $flags -x c++ -I. tests/compile_twice.c -o $B/t-$tag -lm && $B/t-$tag"
done
par modules-alone sh -c "gcc $WARN -O2 $NATIVE -I. tests/module_format.c tests/module_kernels.c tests/module_net.c -o $B/modules && $B/modules"
must_fail half-allocator "define both SCALPEL_MALLOC" \
  sh -c "printf '#define SCALPEL_MALLOC(c, n) malloc(n)\n#define SCALPEL_IMPLEMENTATION\n#include \"scalpel.h\"\n' | gcc $WARN -I. -x c -c - -o $B/half.o"
must_fail no-malloc-removes-api "scalpel_gcsr_from_dense" \
  sh -c "printf '#define SCALPEL_NO_MALLOC\n#include \"scalpel.h\"\nint f(scalpel_gcsr *m, const float *w) { return scalpel_gcsr_from_dense(w, 1, 1, 1, m); }\n' | gcc $WARN -I. -x c -c - -o $B/nm.o"
par no-malloc-no-symbols sh -c "gcc $WARN -O2 -I. -c tests/test_no_malloc.c -o $B/nomalloc.o && ! nm -u $B/nomalloc.o | grep -E ' (malloc|calloc|realloc|free)\$'"

par gen-firmware-model sh -c "mkdir -p $B/fw && gcc $WARN -O2 $NATIVE -I. tests/gen_firmware_model.c -o $B/gen_firmware_model -lm && $B/gen_firmware_model $B/fw"
par_wait
par export-header-c sh -c "gcc $WARN $SAN $NATIVE -DSCALPEL_NO_MALLOC -I$B/fw -I. tests/cortex-m/net_firmware.c -o $B/fw/net-host -lm && $B/fw/net-host"
par export-header-c++ sh -c "g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 $NATIVE -DSCALPEL_NO_MALLOC -x c++ -I$B/fw -I. tests/cortex-m/net_firmware.c -o $B/fw/net-host-pp && $B/fw/net-host-pp"
par export-header-clang-no-simd sh -c "clang $WARN -O2 -DSCALPEL_NO_SIMD -DSCALPEL_NO_MALLOC -I$B/fw -I. tests/cortex-m/net_firmware.c -o $B/fw/net-host-clang -lm && $B/fw/net-host-clang"
par export-names sh -c "sh tests/export_names.sh $B"

par_wait
echo "== 4. amalgamated dist/scalpel.h"
run amalgamate python3 amalgamate.py
if [ -f dist/scalpel.h ]; then
  for t in test_format test_kernels test_alloc test_no_malloc test_net test_prune test_plan test_nm; do
    par "$t-dist" sh -c "gcc $WARN -O1 $NATIVE -Idist tests/$t.c -o $B/$t-dist -lm && $B/$t-dist"
  done
  par test_netfile-dist sh -c "mkdir -p $B/nf-dist && gcc $WARN -O1 $NATIVE -Idist tests/test_netfile.c -o $B/test_netfile-dist -lm && $B/test_netfile-dist $B/nf-dist"
  par dist-twice-c sh -c "printf '#include \"scalpel.h\"\n#include \"scalpel.h\"\n#define SCALPEL_IMPLEMENTATION\n#include \"scalpel.h\"\nint main(void) { return scalpel_kernels_backend()[0] == 0; }\n' | gcc $WARN -O2 -Idist -x c - -o $B/dist-twice -lm && $B/dist-twice"
  par dist-twice-c++ sh -c "printf '#include \"scalpel.h\"\n#define SCALPEL_IMPLEMENTATION\n#include \"scalpel.h\"\nint main(void) { return scalpel_kernels_backend()[0] == 0; }\n' | g++ -std=c++11 -pedantic -Wall -Wextra -Werror -O2 -Idist -x c++ - -o $B/dist-twicepp -lm && $B/dist-twicepp"
fi

par_wait
echo "== 5. fuzzing the buffer reader (${FUZZ_SECONDS}s), two fuzzers at a time"
# pairs that share no file (fuzz-gcsr and fuzz-nm both build $B/fuzz_seeds: not together)
run_bg fuzz-net sh -c "rm -rf $B/corpus-net && mkdir -p $B/corpus-net && gcc -O2 -I. tests/fuzz_net_seeds.c -o $B/fuzz_net_seeds -lm && $B/fuzz_net_seeds $B/corpus-net && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_net.c -o $B/fuzz_net && $B/fuzz_net -max_total_time=$FUZZ_NET_SECONDS -artifact_prefix=$B/ -print_final_stats=1 $B/corpus-net"
run_bg fuzz-npy sh -c "rm -rf $B/npy-corpus && mkdir -p $B/npy-corpus && gcc -O2 -I. tests/fuzz_npy_seeds.c -o $B/fuzz_npy_seeds -lm && $B/fuzz_npy_seeds $B/npy-corpus && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_npy.c -o $B/fuzz_npy && $B/fuzz_npy -max_total_time=$FUZZ_SECONDS -timeout=5 -artifact_prefix=$B/ -print_final_stats=1 $B/npy-corpus"
join_bg
run_bg fuzz-gcsr sh -c "rm -rf $B/corpus && mkdir -p $B/corpus && gcc -O2 -I. tests/fuzz_seeds.c -o $B/fuzz_seeds && $B/fuzz_seeds $B/corpus && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_gcsr.c -o $B/fuzz_gcsr && $B/fuzz_gcsr -max_total_time=$FUZZ_SECONDS -artifact_prefix=$B/ -print_final_stats=1 $B/corpus"
run_bg fuzz-safetensors sh -c "rm -rf $B/st-corpus && mkdir -p $B/st-corpus && gcc -O1 -I. tests/test_safetensors.c -o $B/st-seeds -lm && $B/st-seeds - $B/st-corpus >/dev/null && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_safetensors.c -o $B/fuzz_safetensors && $B/fuzz_safetensors -max_total_time=$FUZZ_SECONDS -timeout=10 -artifact_prefix=$B/ -print_final_stats=1 $B/st-corpus"
join_bg
run_bg fuzz-idx sh -c "rm -rf $B/idx-corpus && mkdir -p $B/idx-corpus && gcc -O1 -DSCALPEL_ZLIB -I. tests/test_data.c -o $B/idx-seeds -lz -lm && $B/idx-seeds - $B/idx-corpus >/dev/null && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -DSCALPEL_ZLIB -I. tests/fuzz_idx.c -o $B/fuzz_idx -lz && $B/fuzz_idx -max_total_time=$FUZZ_SECONDS -artifact_prefix=$B/ -print_final_stats=1 $B/idx-corpus"
run_bg fuzz-nm sh -c "rm -rf $B/nm-corpus && mkdir -p $B/nm-corpus && gcc -O2 -I. tests/fuzz_seeds.c -o $B/fuzz_seeds && $B/fuzz_seeds $B/nm-corpus && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_nm.c -o $B/fuzz_nm && $B/fuzz_nm -max_total_time=$FUZZ_SECONDS -timeout=2 -artifact_prefix=$B/ -print_final_stats=1 $B/nm-corpus"
join_bg
par fuzz-checkpoint sh -c "rm -rf $B/ck-corpus && mkdir -p $B/ck-corpus && gcc -O2 -I. tests/fuzz_checkpoint_seeds.c -o $B/fuzz_checkpoint_seeds -lm && $B/fuzz_checkpoint_seeds $B/ck-corpus && clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. tests/fuzz_checkpoint.c -o $B/fuzz_checkpoint && $B/fuzz_checkpoint -max_total_time=$FUZZ_CHECKPOINT_SECONDS -timeout=5 -artifact_prefix=$B/ -print_final_stats=1 $B/ck-corpus"

echo "== 6. other architectures under QEMU"
if have aarch64-linux-gnu-gcc && have qemu-aarch64; then
  mkdir -p "$B/a64inc" && ln -sfn /usr/include/simde "$B/a64inc/simde"
  par kernels-aarch64-neon sh -c "aarch64-linux-gnu-gcc $WARN -O2 -static -isystem $B/a64inc -DTEST_ITERS=800 -I. tests/test_kernels.c -o $B/k-a64 -lm && qemu-aarch64 $B/k-a64"
  par ops-aarch64-neon sh -c "aarch64-linux-gnu-gcc $WARN -O2 -static -isystem $B/a64inc -I. tests/test_ops.c -o $B/ops-a64 -lm && qemu-aarch64 $B/ops-a64"
  # the NEON build of the tool against PyTorch: every kind and the reference networks but
  # AlexNet, whose layer-by-layer cuts (its fc weights are 244 MB) took 290 of this step's 454 s
  # under QEMU; its kinds (groups 2, LRN across channels, large fc) are cases of part 1, the
  # native build checks AlexNet itself (torch-ops), and make test-full runs it on NEON too
  par torch-ops-aarch64-neon sh -c "aarch64-linux-gnu-gcc -O2 -static -isystem $B/a64inc -I. examples/scalpel_cli.c -o $B/scalpel-a64 -lm && SCALPEL_A64_TOOL=$B/scalpel-a64 SCALPEL_CLI=tests/qemu_aarch64_tool.sh /usr/bin/python3 tests/test_torch_ops.py --parts forward,nets --nets ds-cnn,mobilenet-v1,resnet-8,autoencoder,convnet,nin,lenet-5"
  full torch-ops-aarch64-neon-alexnet sh -c "aarch64-linux-gnu-gcc -O2 -static -isystem $B/a64inc -I. examples/scalpel_cli.c -o $B/scalpel-a64-alexnet -lm && SCALPEL_A64_TOOL=$B/scalpel-a64-alexnet SCALPEL_CLI=tests/qemu_aarch64_tool.sh /usr/bin/python3 tests/test_torch_ops.py --parts nets --nets alexnet"
else
  par kernels-aarch64-neon sh -c "echo 'aarch64-linux-gnu-gcc or qemu-aarch64 missing: run tools/deps.sh test as root'; false"
fi
CM="-DTEST_ITERS=300 -DTEST_MAX_DIM=100 -DTEST_SMALL_MEMORY"
par cortex-m4-kernels  tests/cortex-m/run.sh m4 "$B/k-m4.elf" tests/test_kernels.c $CM
par cortex-m55-kernels tests/cortex-m/run.sh m55 "$B/k-m55.elf" tests/test_kernels.c $CM
par cortex-m4-format   tests/cortex-m/run.sh m4 "$B/f-m4.elf" tests/test_format.c $CM
par cortex-m55-format  tests/cortex-m/run.sh m55 "$B/f-m55.elf" tests/test_format.c $CM
par cortex-m4-nm       tests/cortex-m/run.sh m4 "$B/tnm-m4.elf" tests/test_nm.c $CM
par cortex-m55-nm      tests/cortex-m/run.sh m55 "$B/tnm-m55.elf" tests/test_nm.c $CM
par cortex-m55-kernels-dist tests/cortex-m/run.sh m55 "$B/kd-m55.elf" tests/test_kernels.c $CM -Idist
par cortex-m4-net       tests/cortex-m/run.sh m4 "$B/n-m4.elf" tests/test_net.c
par cortex-m55-net      tests/cortex-m/run.sh m55 "$B/n-m55.elf" tests/test_net.c
par cortex-m4-ops       tests/cortex-m/run.sh m4 "$B/ops-m4.elf" tests/test_ops.c -DTEST_NO_FILES -DTEST_SMALL_MEMORY
par cortex-m55-ops      tests/cortex-m/run.sh m55 "$B/ops-m55.elf" tests/test_ops.c -DTEST_NO_FILES -DTEST_SMALL_MEMORY
par cortex-m4-net-firmware sh -c "tests/cortex-m/run.sh m4 $B/fw/net-m4.elf tests/cortex-m/net_firmware.c -I$B/fw -DSCALPEL_NO_MALLOC && ! arm-none-eabi-nm $B/fw/net-m4.elf | grep -E ' (malloc|calloc|realloc|free)\$' && arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard $WARN -O2 -DSCALPEL_NO_MALLOC -I$B/fw -I. -c tests/cortex-m/net_firmware.c -o $B/fw/net-m4.o && ! arm-none-eabi-nm -u $B/fw/net-m4.o | grep -E ' (malloc|calloc|realloc|free)\$'"
par cortex-m55-net-firmware tests/cortex-m/run.sh m55 "$B/fw/net-m55.elf" tests/cortex-m/net_firmware.c -I$B/fw -DSCALPEL_NO_MALLOC
par cortex-m4-no-malloc tests/cortex-m/run.sh m4 "$B/nm-m4.elf" tests/test_no_malloc.c
# fixed point: DSP (SMLAD / SXTB16) on M4 and M7, Helium on M55, plain C on M3; one checksum
par cortex-m4-qkernels  tests/cortex-m/run.sh m4 "$B/qk-m4.elf" tests/test_qkernels.c $CM
par cortex-m55-qkernels tests/cortex-m/run.sh m55 "$B/qk-m55.elf" tests/test_qkernels.c $CM
par cortex-m7-qkernels  tests/cortex-m/run.sh m7 "$B/qk-m7.elf" tests/test_qkernels.c $CM
par cortex-m4-qnet     tests/cortex-m/run.sh m4 "$B/qn-m4.elf" tests/test_qnet.c -DTEST_SMALL_MEMORY
par cortex-m55-qnet    tests/cortex-m/run.sh m55 "$B/qn-m55.elf" tests/test_qnet.c -DTEST_SMALL_MEMORY
par cortex-m3-qnet     tests/cortex-m/run.sh m3 "$B/qn-m3.elf" tests/test_qnet.c -DTEST_SMALL_MEMORY
par cortex-m4-qops     tests/cortex-m/run.sh m4 "$B/qo-m4.elf" tests/test_qops.c -DTEST_SMALL_MEMORY -DTEST_NO_FILES
par cortex-m55-qops    tests/cortex-m/run.sh m55 "$B/qo-m55.elf" tests/test_qops.c -DTEST_SMALL_MEMORY -DTEST_NO_FILES
par cortex-m3-qops     tests/cortex-m/run.sh m3 "$B/qo-m3.elf" tests/test_qops.c -DTEST_SMALL_MEMORY -DTEST_NO_FILES
par cortex-m7-qops     tests/cortex-m/run.sh m7 "$B/qo-m7.elf" tests/test_qops.c -DTEST_SMALL_MEMORY -DTEST_NO_FILES
par cortex-m3-qkernels  tests/cortex-m/run.sh m3 "$B/qk-m3.elf" tests/test_qkernels.c -DTEST_ITERS=100 -DTEST_MAX_DIM=60 -DTEST_SMALL_MEMORY
par cortex-m4-qnet-firmware sh -c "tests/cortex-m/run.sh m4 $B/fw/qnet-m4.elf tests/cortex-m/qnet_firmware.c -I$B/fw -DSCALPEL_NO_MALLOC && ! arm-none-eabi-nm $B/fw/qnet-m4.elf | grep -E ' (malloc|calloc|realloc|free)\$'"
par cortex-m55-qnet-firmware tests/cortex-m/run.sh m55 "$B/fw/qnet-m55.elf" tests/cortex-m/qnet_firmware.c -I$B/fw -DSCALPEL_NO_MALLOC
par cortex-m7-qnet-firmware tests/cortex-m/run.sh m7 "$B/fw/qnet-m7.elf" tests/cortex-m/qnet_firmware.c -I$B/fw -DSCALPEL_NO_MALLOC
# the four MLPerf Tiny models in q7, exported, run with no allocation: the host's integers;
# dense, with 70% of their G = 4 groups pruned (grouped CSR layers in q7), and the autoencoder
# with 90% of its G = 16 groups pruned (the Helium grouped layers)
for m in ds_cnn mobilenet_v1 resnet_8 autoencoder ds_cnn_p70 mobilenet_v1_p70 resnet_8_p70 autoencoder_p70 autoencoder_p90_mve; do
  par "mlperf-$m-host" sh -c "gcc $WARN -O1 $NATIVE -DSCALPEL_NO_MALLOC -DMLPERF=$m -I$B/mlperf -I. tests/cortex-m/mlperf_firmware.c -o $B/mlperf/$m-host -lm && $B/mlperf/$m-host"
  par "cortex-m4-mlperf-$m" sh -c "tests/cortex-m/run.sh m4 $B/mlperf/$m-m4.elf tests/cortex-m/mlperf_firmware.c -I$B/mlperf -DSCALPEL_NO_MALLOC -DMLPERF=$m && ! arm-none-eabi-nm $B/mlperf/$m-m4.elf | grep -E ' (malloc|calloc|realloc|free)\$'"
  par "cortex-m55-mlperf-$m" tests/cortex-m/run.sh m55 "$B/mlperf/$m-m55.elf" tests/cortex-m/mlperf_firmware.c -I$B/mlperf -DSCALPEL_NO_MALLOC -DMLPERF=$m
done

echo "== 6b. GPU backend (scalpel_cuda.cu): built with nvcc, tested without a GPU by emulation"
NVCC=${NVCC:-/usr/local/cuda/bin/nvcc}
CUDA_HOME=$(dirname "$(dirname "$NVCC")")
CUDA_LIB=$CUDA_HOME/lib64
if [ -x "$NVCC" ] && [ ! -e "$CUDA_LIB/libcublas.so" ]; then
  echo "  skip  GPU backend: $NVCC is there but cuBLAS is not ($CUDA_LIB/libcublas.so): install the full CUDA toolkit"
elif [ -x "$NVCC" ]; then
  CUDA_LINK="-L$CUDA_LIB -Wl,-rpath,$CUDA_LIB -lcublas -lcudart -lstdc++ -lm"
  par nvcc-headers sh -c "$NVCC -x cu -O2 -DSCALPEL_CUDA -I. tests/compile_twice.c -o $B/t-nvcc && $B/t-nvcc"
  par nvcc-scalpel-cuda "$NVCC" -O3 -Xcompiler -Wall,-Wextra,-Werror -c scalpel_cuda.cu -o "$B/scalpel_cuda.o"
  par nvcc-scalpel-cuda-sm90 "$NVCC" -O3 -arch=sm_90 -Xcompiler -Wall,-Wextra,-Werror -c scalpel_cuda.cu -o "$B/scalpel_cuda_sm90.o"
  par_wait
  par test_cuda sh -c "gcc $WARN -O2 -I. -isystem $CUDA_HOME/include tests/test_cuda.c $B/scalpel_cuda.o $CUDA_LINK -o $B/test_cuda && $B/test_cuda"
  par bench-cuda-build sh -c "$NVCC -O3 -Werror all-warnings -Xcompiler -Wall,-Wextra,-Werror -I. -c bench/bench_cuda.cu -o $B/bench_cuda.o"
  par test_cuda_emul sh -c "$NVCC -O3 -I. -Xcompiler -Wall,-Wextra,-Werror tests/test_cuda_emul.cu -o $B/test_cuda_emul -lcublas && $B/test_cuda_emul"
else
  echo "  skip  GPU backend: $NVCC not found (CUDA is not a Debian package; install the CUDA toolkit to build scalpel_cuda.cu)"
fi

echo "== 7. examples (the README's cc command) and the examples in the headers' top comments"
for h in scalpel.h scalpel_format.h scalpel_train.h; do
  par "doc-example-$h" sh -c "python3 tests/header_example.py $h $B/doc-$h.c && cc $WARN -O2 -I. $B/doc-$h.c -o $B/doc-$h -lm && $B/doc-$h"
done
for ex in examples/*.c; do
  name=$(basename "$ex" .c)
  args=""
  if [ "$name" = scalpel_cli ] || [ "$name" = mnist ]; then args="--help"; fi   # tools: no arguments is a usage error or a long run
  par "example-$name" sh -c "cc -O2 -march=native -I. $ex -o $B/$name -lm && $B/$name $args"
done
par_wait
par cli sh -c "sh tests/test_cli.sh $B/scalpel_cli $B/cli"
par mnist-pipeline sh -c "cc -O2 $NATIVE -fopenmp -DSCALPEL_ZLIB -I. examples/mnist.c -o $B/mnist-omp -lz -lm && sh tests/test_mnist.sh $B/mnist-omp $B/scalpel_cli $B/mnist-run"
# the two builds of the tool side by side (their own binaries and scratch directories)
par cli-asan sh -c "gcc $WARN $SAN $NATIVE -I. examples/scalpel_cli.c -o $B/scalpel_cli-asan -lm && sh tests/test_cli.sh $B/scalpel_cli-asan $B/cli-asan"
full cli-clang sh -c "clang $WARN -O2 $NATIVE -I. examples/scalpel_cli.c -o $B/scalpel_cli-clang -lm && sh tests/test_cli.sh $B/scalpel_cli-clang $B/cli-clang"
# a PyTorch user's mistakes on the way in (import, pack, plan, quantize), under ASan, with zlib for MNIST
par from-pytorch sh -c "gcc $WARN $SAN $NATIVE -DSCALPEL_ZLIB -I. examples/scalpel_cli.c -o $B/scalpel_cli-z-asan -lz -lm && sh tests/test_from_pytorch.sh $B/scalpel_cli-z-asan $B/from-pytorch"

par_wait
echo "== 8. used from another project: make install / uninstall, CMake find_package and add_subdirectory, pkg-config, Cortex-M firmware"
par consumer sh tests/test_consumer.sh "$B/consumer"
par plots sh tests/test_plots.sh "$B/plots"

par_wait
echo
if [ -n "$FULL_ONLY" ]; then
  echo "left to make test-full (checks made here, again under a second compiler or backend):$FULL_ONLY"
fi
if [ "$FAILED" -ne 0 ]; then echo "failed steps:$FAILED_NAMES"; fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
