#!/bin/sh
# test_from_pytorch.sh - what a PyTorch user hits on the way in (import-safetensors, pack,
# plan, quantize), each mistake reproduced with a model made in PyTorch the way users make it
# (tests/from_pytorch_models.py) and the new behaviour checked: the message, the exit status
# and the model that results.
#
#   sh tests/test_from_pytorch.sh BINARY SCRATCH_DIR
#
# BINARY: the CLI built with zlib (-DSCALPEL_ZLIB -lz), for MNIST as ../shared/data keeps it.
# Needs /usr/bin/python3 with torch and numpy, and MNIST in $SCALPEL_MNIST_DIR or
# ../shared/data/mnist (missing data is a failure, not a skip).
# Ends with "test_from_pytorch: N passed, M failed"; exit status 0 only when nothing failed.
set -u
if [ $# -ne 2 ]; then
  echo "usage: sh tests/test_from_pytorch.sh BINARY SCRATCH_DIR" >&2
  exit 2
fi
BIN=$1
DIR=$2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
MNIST=${SCALPEL_MNIST_DIR:-$ROOT/../shared/data/mnist}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
mkdir -p "$DIR" || exit 2
DIR=$(cd "$DIR" && pwd)
rm -rf "$DIR"/* 
XDG_CACHE_HOME=$DIR/cache
export XDG_CACHE_HOME
. "$ROOT/tests/expect.sh"
S=$BIN
D=$DIR
ARCH5=1x28x28,conv:20:5,relu,pool:2,conv:50:5,relu,pool:2,fc:500,relu,fc:10

if ! "$PY" "$ROOT/tests/from_pytorch_models.py" "$D" "$MNIST" >"$D/gen.txt" 2>&1; then
  cat "$D/gen.txt"
  echo "the PyTorch models could not be made (torch in /usr/bin/python3? MNIST in $MNIST?)"
  echo "test_from_pytorch: 0 passed, 1 failed"
  exit 1
fi
# same PATTERN FILE1 FILE2: the two .npy arrays agree within PATTERN (relative to the largest |FILE2|)
close() {
  "$PY" -c "import sys, numpy as np; a, b = np.load(sys.argv[2]), np.load(sys.argv[3]); \
assert a.shape == b.shape, (a.shape, b.shape); e = np.abs(a - b).max() / np.abs(b).max(); \
assert e <= float(sys.argv[1]), e" "$@"
}

echo "== tensors the import does not use (item 2)"
expect 1 "bn1\.\*, bn2\.\*, bn3\.\* look like BatchNorm.*Add .bn. after the layer" \
  "BatchNorm tensors and no bn in --arch: refused, with what to do" \
  "$S" import-safetensors "$D/bn0.safetensors" --arch 1x28x28,conv:6:5,relu,pool:2,conv:8:5,relu,pool:2,fc:32,relu,fc:10 \
  --names conv1,conv2,fc1,fc2 -o "$D/bn_wrong.scpn"
check "the refused import wrote nothing" test ! -e "$D/bn_wrong.scpn"
BN=1x28x28,conv:6:5,bn,relu,pool:2,conv:8:5,bn,relu,pool:2,fc:32,bn,relu,fc:10
expect 0 "batch norm: 3 of 3 folded" "bn after conv and fc: folded (natural order of the names)" \
  "$S" import-safetensors "$D/bn0.safetensors" --arch "$BN" -o "$D/bn0.scpn" --check "$D/x.npy" "$D/bn0_y.npy"
expect 0 "9 layers" "the folded model has no batchnorm layer left" "$S" info "$D/bn0.scpn"
check "info lists no batchnorm" sh -c "! grep -q batchnorm '$D/out.txt'"
expect 0 "" "bn with --names in layer order" \
  "$S" import-safetensors "$D/bn0.safetensors" --arch "$BN" --names conv1,bn1,conv2,bn2,fc1,bn3,fc2 -o "$D/bn0n.scpn"
check "--names and natural order give the same model" cmp -s "$D/bn0.scpn" "$D/bn0n.scpn"
expect 0 "2 of 3 folded.*the others stay layers" "bn after a relu: kept as a layer, outputs still PyTorch's" \
  "$S" import-safetensors "$D/bn1.safetensors" --arch 1x28x28,conv:6:5,relu,bn,pool:2,conv:8:5,bn,relu,pool:2,fc:32,bn,relu,fc:10 \
  -o "$D/bn1.scpn" --check "$D/x.npy" "$D/bn1_y.npy"
expect 0 "batchnorm" "info shows the batchnorm layer" "$S" info "$D/bn1.scpn"
expect 1 "4 batch norms|3 batch norms in the file .* for 2 bn layers" "more bn layers in the file than in --arch" \
  "$S" import-safetensors "$D/bn0.safetensors" --arch 1x28x28,conv:6:5,bn,relu,pool:2,conv:8:5,bn,relu,pool:2,fc:32,relu,fc:10 -o "$D/x.scpn"
expect 1 "gives .conv1. to bn layer 1, but the file has no conv1\.running_mean" "--names gives a bn layer a prefix without statistics" \
  "$S" import-safetensors "$D/bn0.safetensors" --arch "$BN" --names conv1,conv1,conv2,bn2,fc1,bn3,fc2 -o "$D/x.scpn"
expect 1 "bn\[:EPS\]" "bn with a bad epsilon" "$S" import-safetensors "$D/bn0.safetensors" --arch 1x28x28,conv:6:5,bn:2 -o "$D/x.scpn"
expect 1 "2 tensors the import does not use: aux\.weight, aux\.bias.*--allow-unused" \
  "a head --arch does not describe: refused, the tensors named" \
  "$S" import-safetensors "$D/twoheads.safetensors" --arch 784,fc:32,relu,fc:10 --names fc1,fc2 -o "$D/th.scpn"
check "the refused import wrote nothing (unused tensors)" test ! -e "$D/th.scpn"
expect 0 "imported" "--allow-unused imports" \
  "$S" import-safetensors "$D/twoheads.safetensors" --arch 784,fc:32,relu,fc:10 --names fc1,fc2 -o "$D/th.scpn" --allow-unused
check "--allow-unused warns with the names" grep -q "warning: .*2 tensors not used (--allow-unused): aux.weight, aux.bias" "$D/err.txt"

echo "== input normalization (item 3)"
expect 0 "input preprocessing: raw inputs in \[0, 1\], then \(x - mean\) / std with mean 0.1307 and std 0.3081 \(folded into layer 0\)" \
  "--mean/--std folded into the first conv; --check on raw inputs" \
  "$S" import-safetensors "$D/lenet.safetensors" --arch "$ARCH5" --mean 0.1307 --std 0.3081 -o "$D/ln.scpn" \
  --check "$D/x.npy" "$D/lenet_norm_y.npy"
expect 0 "input preprocessing: .*folded into layer 0" "info shows the preprocessing" "$S" info "$D/ln.scpn"
expect 0 "" "run on raw inputs" "$S" run "$D/ln.scpn" --input "$D/x.npy" --output "$D/ln_y.npy"
check "run gives PyTorch's outputs on the normalized inputs" close 1e-5 "$D/ln_y.npy" "$D/lenet_norm_y.npy"
expect 0 "raw inputs in \[0, 255\], x / 255" "--input-range 255 (byte inputs)" \
  "$S" import-safetensors "$D/lenet.safetensors" --arch "$ARCH5" --mean 0.1307 --std 0.3081 --input-range 255 \
  -o "$D/ln255.scpn" --check "$D/x255.npy" "$D/lenet_norm255_y.npy"
expect 0 "per channel \(done by layer 0, a batchnorm\)" "per-channel values before a padded conv: a layer does it" \
  "$S" import-safetensors "$D/rgb.safetensors" --arch 3x8x8,conv:4:3:1:1,relu,fc:5 --mean 0.4914,0.4822,0.4465 \
  --std 0.247,0.243,0.261 -o "$D/rgb.scpn" --check "$D/xrgb.npy" "$D/rgb_y.npy"
check "python3 -m scalpel info shows it too" sh -c "PYTHONPATH='$ROOT/python' '$PY' -m scalpel info '$D/rgb.scpn' | grep -q 'input preprocessing: raw inputs in \[0, 1\], .* (done by layer 0, a batchnorm)'"
expect 0 "wrote" "export-c of a model with its preprocessing" "$S" export-c "$D/rgb.scpn" rgb -o "$D/rgb.h"
check "the export writes the preprocessing" grep -q "{ 2, 3, 1.0f, { 0.4914" "$D/rgb.h"
expect 1 "2 values for an input of 3 channels" "--mean with two values for three channels" \
  "$S" import-safetensors "$D/rgb.safetensors" --arch 3x8x8,conv:4:3:1:1,relu,fc:5 --mean 0.4,0.4 --std 0.2,0.2 -o "$D/x.scpn"
expect 2 "--mean and --std go together" "--mean without --std" \
  "$S" import-safetensors "$D/lenet.safetensors" --arch "$ARCH5" --mean 0.1 -o "$D/x.scpn"
expect 2 "--std '0': numbers separated by commas, each above 0" "--std 0" \
  "$S" import-safetensors "$D/lenet.safetensors" --arch "$ARCH5" --mean 0.1 --std 0 -o "$D/x.scpn"
expect 2 "--input-range -1: a positive number" "--input-range -1" \
  "$S" import-safetensors "$D/lenet.safetensors" --arch "$ARCH5" --mean 0.1 --std 1 --input-range -1 -o "$D/x.scpn"
check "no model from the refused imports" test ! -e "$D/x.scpn"
# the user's case: an MNIST model trained on Normalize((0.1307,), (0.3081,)); quantize must see
# PyTorch's test error, not the error of the wrong inputs
TORCH_ERR=$(cat "$D/mnist_norm_error.txt")
expect 0 "" "import the MNIST model without its preprocessing (the mistake)" \
  "$S" import-safetensors "$D/mnist_norm.safetensors" --arch 784,fc:64,relu,fc:10 --names 0,2 -o "$D/mn_plain.scpn"
expect 0 "" "import it with --mean/--std" \
  "$S" import-safetensors "$D/mnist_norm.safetensors" --arch 784,fc:64,relu,fc:10 --names 0,2 --mean 0.1307 --std 0.3081 \
  -o "$D/mn.scpn"
expect 0 "" "import it for byte inputs (--input-range 255)" \
  "$S" import-safetensors "$D/mnist_norm.safetensors" --arch 784,fc:64,relu,fc:10 --names 0,2 --mean 0.1307 --std 0.3081 \
  --input-range 255 -o "$D/mn255.scpn"
for m in mn_plain mn mn255; do
  expect 0 "test error" "quantize $m on MNIST" "$S" quantize "$D/$m.scpn" q -o "$D/$m.h" --data "$MNIST" --calib 200 --test 2000
  grep "test error" "$D/out.txt" | sed 's/.*float \([0-9.]*\)%.*/\1/' >"$D/$m.err"
done
check "with its preprocessing, quantize's float error is PyTorch's (within 0.1 point)" "$PY" -c \
  "import sys; t, e = float(sys.argv[1]) * 100, float(open(sys.argv[2]).read()); assert abs(t - e) <= 0.1, (t, e)" \
  "$TORCH_ERR" "$D/mn.err"
check "byte inputs: quantize scales its data to [0, 255] and gets the same error" cmp -s "$D/mn.err" "$D/mn255.err"
check "without it the error differs (the mistake the preprocessing record prevents)" "$PY" -c \
  "import sys; a, b = float(open(sys.argv[1]).read()), float(open(sys.argv[2]).read()); assert abs(a - b) >= 1.0, (a, b)" \
  "$D/mn_plain.err" "$D/mn.err"
expect 0 "data: pixels in \[0, 1\] scaled to the model's raw input range \[0, 255\]" "plan --no-retrain says it scales" \
  "$S" plan --no-retrain --data "$MNIST" --samples 300 "$D/mn255.scpn"

echo "== batch (item 4)"
expect 0 "" "import LeNet-5 pruned by channel" \
  "$S" import-safetensors "$D/channels.safetensors" --arch "$ARCH5" -o "$D/ch.scpn" --check "$D/x.npy" "$D/channels_y.npy"
expect 0 "profile cortex-m4: .*batch 16" "plan --batch 16" "$S" plan --hw cortex-m4 --batch 16 "$D/ch.scpn"
check "fc layers planned for the matrix-matrix kernel at batch 16" grep -q -E "^ +6 +fc .* mm " "$D/out.txt"
expect 0 "" "pack --batch 16" "$S" pack --hw cortex-m4 --batch 16 "$D/ch.scpn" -o "$D/ch16.scpn"
expect 0 "packed for batch 16" "info says which batch" "$S" info "$D/ch16.scpn"
expect 0 "packed for batch 16" "bench says which batch" "$S" bench "$D/ch16.scpn" --batch 16 --repeat 3
expect 0 "packed for batch 16; timed at another batch" "bench notes a batch other than the packed one" \
  "$S" bench "$D/ch16.scpn" --repeat 3
expect 2 "--batch '0' is out of range" "pack --batch 0" "$S" pack --hw cortex-m4 --batch 0 "$D/ch.scpn" -o "$D/x.scpn"

echo "== dead nodes (item 5)"
expect 0 "dead nodes: removed 335 .*layer 0: 20 -> 10 channels, layer 3: 50 -> 25 channels, layer 6: 500 -> 200 outputs" \
  "pack removes the channels ln_structured zeroed, and says so" "$S" pack --hw cortex-m4 "$D/ch.scpn" -o "$D/chp.scpn"
expect 0 "" "run the packed model" "$S" run "$D/chp.scpn" --input "$D/x.npy" --output "$D/chp_y.npy"
check "the smaller model computes PyTorch's outputs" close 1e-5 "$D/chp_y.npy" "$D/channels_y.npy"
expect 0 "pack removes 335" "plan says what pack would remove" "$S" plan --hw cortex-m4 "$D/ch.scpn"
expect 0 "" "--keep-dead keeps them" "$S" pack --hw cortex-m4 --keep-dead "$D/ch.scpn" -o "$D/chk.scpn"
check "--keep-dead printed no removal" sh -c "! grep -q 'dead nodes' '$D/out.txt'"
expect 0 "10x24x24" "info of the packed model: conv1 has 10 channels" "$S" info "$D/chp.scpn"

echo "== this machine's break-even rates (item 6)"
expect 0 "measuring the break-even rates of profile .* on this machine" \
  "pack --hw host measures on first use" "$S" pack --hw host "$D/ch.scpn" -o "$D/chh.scpn"
check "and caches the measurement" grep -q "cached in $D/cache/scalpel/host-" "$D/out.txt"
check "one cache file" test "$(ls "$D/cache/scalpel" | wc -l)" = 1
expect 0 "measured on this machine earlier, from $D/cache/scalpel/host-" "the second pack reads the cache" \
  "$S" pack --hw host "$D/ch.scpn" -o "$D/chh.scpn"
check "a layer's timing against dense is printed for each sparse layer, or none is sparse" \
  sh -c "grep -q -E 'dense [0-9.]+ us .*: (kept|slower here: dense instead)' '$D/out.txt' || ! grep -q -E 'gcsr|csr' '$D/out.txt'"
for f in "$D"/cache/scalpel/*; do echo "breakeven_mv_csr 7" >"$f"; done
expect 0 "measuring the break-even rates" "a damaged cache file is measured again" "$S" plan --hw host "$D/ch.scpn"
expect 0 "measured on this machine earlier" "and rewritten" "$S" plan --hw host "$D/ch.scpn"
expect 0 "measuring the break-even rates" "--calibrate measures again" "$S" plan --hw host --calibrate "$D/ch.scpn"
rm -rf "$D/cache"
: >"$D/cache"
expect 0 "measuring the break-even rates" "no place to cache: still packs" "$S" pack --hw host "$D/ch.scpn" -o "$D/chh.scpn"
check "and warns" grep -q "warning: cannot cache the measured profile" "$D/err.txt"
rm -f "$D/cache"
HOSTP=$("$S" plan --hw list --json | "$PY" -c "import json, sys; print(json.load(sys.stdin)['host']['name'])")
expect 0 "note: profile $HOSTP's break-even rates are built-in figures from other machines; --hw host measures" \
  "the built-in profile of this machine's kernels says its figures are not measured here" \
  "$S" plan --hw "$HOSTP" "$D/ch.scpn"

echo "test_from_pytorch: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
