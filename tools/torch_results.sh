#!/bin/sh
# torch_results.sh - the results of scalpel.torch (docs/pytorch-pruning.md, "Results"): networks
# trained and pruned in PyTorch for a CPU and a microcontroller profile, exported and measured by
# the C library (examples/prune_torch.py does one run). Long: hours on 2 cores; `make
# results-torch` runs it. Runs whose summary exists are not run again (delete OUT/*.json).
#
#   sh tools/torch_results.sh [OUT]          (default build/torch-results)
#   RUNS="lenet-300-100:mnist:x86-avx2 ..." sh tools/torch_results.sh   (a subset)
#   REBENCH=1 sh tools/torch_results.sh      (time the finished runs' files again)
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-build/torch-results}
mkdir -p "$OUT"
PY=/usr/bin/python3
# OpenBLAS: Debian's PyTorch calls the system BLAS, the reference one unless OpenBLAS is
# installed (training is about 12x slower without it); as root, install what is missing
sh tools/deps.sh bench
DATA=${SCALPEL_DATA_DIR:-../shared/data}
for d in mnist fashion-mnist; do
  [ -d "$DATA/$d" ] || { echo "torch_results: $DATA/$d is missing (MNIST layout; SCALPEL_DATA_DIR)" >&2; exit 1; }
done
# the tool: zlib (gzip'd IDX for quantize); AVX2 kernels for the x86-avx2 profile's runs (its G = 8)
cc -O2 -march=native -DSCALPEL_ZLIB -I. examples/scalpel_cli.c -o "$OUT/scalpel" -lz -lm
cc -O2 -march=x86-64-v3 -DSCALPEL_ZLIB -I. examples/scalpel_cli.c -o "$OUT/scalpel-avx2" -lz -lm
THREADS=${THREADS:-2}
export OPENBLAS_NUM_THREADS="$THREADS"
# NET:DATA:HW[:EXTRA OPTIONS, comma-separated]
# LeNet-300-100 on the C driver's schedule (examples/mnist.c): a geometric ladder (each stage
# prunes 20% of what is left) up to 97% over up to 14 stages, 3 epochs per stage, 2 misses forgiven
L300="--stage-epochs,3,--rate-keep,0.8,--rate-max,0.97,--patience,2,--max-stages,14"
# The batch-normalized networks' node pruning (CPU class): batch norms frozen while the masks train
# (a smaller rate: at 0.005 the frozen network lost 3 points in the first 100 steps), the masks'
# b ordered by output sensitivity (prune_for's default for such models), b at 5% of that rate
# (the batch noise of b's gradient would otherwise throw maps off out of order), 3 epochs per
# stage with 2 misses forgiven (a stage's end catches the network mid-recovery)
BN="--train-subset,20000,--tolerance,0.005,--prune-lr,0.001,--mask-lr-scale,0.05,--lambda-start,0.004,--lambda-factor,1.3,--stage-epochs,3,--patience,2,--max-stages,6"
RUNS=${RUNS:-"lenet-300-100:mnist:x86-avx2:$L300 lenet-300-100:mnist:cortex-m4:$L300
lenet-5:mnist:x86-avx2:--stage-epochs,2,--lambda-start,0.0001 lenet-5:mnist:cortex-m4:--stage-epochs,2
ds-cnn:fashion-mnist:x86-avx2:$BN
ds-cnn:fashion-mnist:cortex-m4:--train-subset,20000,--tolerance,0.005
ds-cnn:fashion-mnist:cortex-m4:--train-subset,20000,--tolerance,0.005,--prune-lr,0.001,--tag,lr001
resnet-8:fashion-mnist:x86-avx2:$BN
resnet-8:fashion-mnist:cortex-m4:--train-subset,20000,--tolerance,0.005
convnet:fashion-mnist:x86-avx2:--train-subset,20000,--tolerance,0.005,--lambda-start,0.0001
convnet:fashion-mnist:cortex-m4:--train-subset,20000,--tolerance,0.005"}
for r in $RUNS; do
  net=$(echo "$r" | cut -d: -f1); data=$(echo "$r" | cut -d: -f2); hw=$(echo "$r" | cut -d: -f3)
  extra=$(echo "$r" | cut -d: -f4 -s | tr ',' ' ')
  cli="$OUT/scalpel"; [ "$hw" = x86-avx2 ] && cli="$OUT/scalpel-avx2"
  # a --tag in the options names the run's files NET-DATA-HW-TAG
  tag=$(echo " $extra " | sed -n 's/.* --tag \([^ ]*\) .*/-\1/p')
  if [ -f "$OUT/$net-$data-$hw$tag.json" ]; then
    echo "== $net $data $hw$tag: done earlier ($OUT/$net-$data-$hw$tag.json)"
    # REBENCH=1: time its files again (a quiet machine), the summary updated
    [ -n "${REBENCH:-}" ] && $PY examples/prune_torch.py --rebench --net "$net" --data "$DATA/$data" --hw "$hw" \
      --out "$OUT" --cli "$cli" ${tag:+--tag "${tag#-}"}
    continue
  fi
  echo "== $net on $data for $hw"
  # shellcheck disable=SC2086
  $PY examples/prune_torch.py --net "$net" --data "$DATA/$data" --hw "$hw" --out "$OUT" --cli "$cli" \
    --threads "$THREADS" $extra 2>&1 | tee "$OUT/$net-$data-$hw$tag.log"
done
# LeNet-5 on 1 and 2 processes (one thread each), from the same dense model, on a shorter
# schedule (epochs of 15000 images, 4 stages of 1 epoch per phase): wall time and result
if [ -z "${SKIP_DDP:-}" ]; then
  for np in 1 2; do
    [ -f "$OUT/lenet-5-mnist-x86-avx2-np$np.json" ] && continue
    echo "== lenet-5 on mnist for x86-avx2, $np process(es), 1 thread each"
    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 GLOO_SOCKET_IFNAME=lo $PY -m torch.distributed.run --nproc_per_node "$np" --redirects 2 \
      --tee 2 --master_addr 127.0.0.1 --master_port 29611 examples/prune_torch.py --net lenet-5 \
      --data "$DATA/mnist" --hw x86-avx2 --out "$OUT" --cli "$OUT/scalpel-avx2" --threads 1 --tag "np$np" \
      --train-subset 15000 --max-stages 4 --stage-epochs 1 --lambda-start 0.0001 \
      2>&1 | tee "$OUT/lenet-5-mnist-x86-avx2-np$np.log"
  done
fi
$PY tools/torch_results_table.py "$OUT" | tee "$OUT/RESULTS.md"
