#!/bin/sh
# test_mnist.sh - the main job (examples/mnist.c), end to end on a tiny schedule.
#
#   sh tests/test_mnist.sh BINARY SCALPEL_CLI SCRATCH_DIR
#
# Runs the whole pipeline (dense training, Traditional, Optimized, Scalpel for the host
# profile, the comparison table) on the built-in synthetic dataset with one dense epoch and two
# pruning stages, checks the table and the four saved models (which the scalpel tool must read
# back), runs it again with --resume (everything loaded, nothing retrained, the same errors and
# sizes), and checks the command-line errors. Ends with "test_mnist: N passed, M failed".
set -u
if [ $# -ne 3 ]; then
  echo "usage: sh tests/test_mnist.sh BINARY SCALPEL_CLI SCRATCH_DIR" >&2
  exit 2
fi
BIN=$1
CLI=$2
DIR=$3
mkdir -p "$DIR" || exit 2
rm -rf "${DIR:?}"/models "$DIR"/models3 "$DIR"/models4 "$DIR"/*.txt
PASSED=0
FAILED=0
failed() { FAILED=$((FAILED + 1)); echo "FAIL: $*"; }
passed() { PASSED=$((PASSED + 1)); }
check() { # check WHAT CMD...: CMD must succeed
  what=$1; shift
  if "$@"; then passed; else failed "$what"; fi
}

TINY="--synthetic --epochs 1 --stage-epochs 1 --stages 2 --finetune 1 --out $DIR/models"

# 1. the pipeline
"$BIN" $TINY >"$DIR/run1.txt" 2>"$DIR/err1.txt"
check "tiny run exits 0 ($(tail -n 3 "$DIR/err1.txt" | tr '\n' ' '))" test $? -eq 0
for v in Dense Traditional Optimized Scalpel; do
  check "table row $v" grep -q -E "^\| $v \| [0-9.]+% \| [0-9.]+% \| [0-9.]+% \| [0-9.]+x \| [0-9]+ \| [0-9.]+ us \|$" "$DIR/run1.txt"
done
check "dense row is 100% size and time" grep -q -E "^\| Dense \| [0-9.]+% \| 100.00% \| 100.00% \| 1.00x" "$DIR/run1.txt"
check "synthetic data is labelled as such" grep -q "SYNTHETIC" "$DIR/run1.txt"
check "progress goes to stderr, one line per epoch" grep -q -E "dense +epoch +1/1 +loss" "$DIR/err1.txt"
for v in dense traditional optimized scalpel; do
  f="$DIR/models/lenet300-$v.scpn"
  check "model $v saved" test -s "$f"
  check "model $v reads back (scalpel info)" sh -c "\"$CLI\" info \"$f\" >/dev/null"
done
check "dense checkpoint saved" test -s "$DIR/models/lenet300-dense.ckpt"

# 2. --resume: nothing is trained again; the same models give the same errors and sizes
"$BIN" $TINY --resume >"$DIR/run2.txt" 2>"$DIR/err2.txt"
check "resumed run exits 0" test $? -eq 0
check "dense training resumed at its end" grep -q "resumed from .*lenet300-dense.ckpt at epoch 1" "$DIR/err2.txt"
check "pruned models loaded" grep -q "resumed: loaded .*lenet300-scalpel.scpn" "$DIR/err2.txt"
check "no pruning stage ran again" sh -c "! grep -q -E '(traditional|simd) +epoch' \"$DIR/err2.txt\""
cut -d'|' -f2-4,7 "$DIR/run1.txt" | grep -E "^ (Dense|Trad|Opt|Scal)" >"$DIR/cols1.txt"
cut -d'|' -f2-4,7 "$DIR/run2.txt" | grep -E "^ (Dense|Trad|Opt|Scal)" >"$DIR/cols2.txt"
check "same errors and sizes after --resume" cmp -s "$DIR/cols1.txt" "$DIR/cols2.txt"
check "the resumed table says so" grep -q "traditional (resumed), scalpel (resumed)" "$DIR/run2.txt"

# 3. Scalpel's layer order and a per-layer cap (cortex-m4: SIMD-aware pruning of every layer):
# fc 2 first, capped at 55%; a layer that holds no weights in the order is refused
"$BIN" $TINY --hw cortex-m4 --order 2,0 --layer-rate-max 2:0.55 --out "$DIR/models3" >"$DIR/run3.txt" 2>"$DIR/err3.txt"
check "given order and cap: exits 0 ($(tail -n 3 "$DIR/err3.txt" | tr '\n' ' '))" test $? -eq 0
check "layer 2 at most 55% pruned" sh -c "grep -E '^  layer 2 fc:' \"$DIR/err3.txt\" | grep -q -E ' (5[0-5]\\.[0-9]|[0-4]?[0-9]\\.[0-9])% pruned'"
"$BIN" $TINY --hw cortex-m4 --order 1 --out "$DIR/models4" >"$DIR/out.txt" 2>"$DIR/err4.txt"
check "a ReLU in --order is refused before training" sh -c "test $? -eq 2 && grep -q 'holds no weights' \"$DIR/err4.txt\" && ! test -e \"$DIR/models4/lenet300-dense.ckpt\""

# 3b. --resume from a saved dense model without its checkpoint: no dense epoch runs, and the
# pruning phases (models removed) run from it; a dense model of another network is not used;
# --keep-dead keeps Scalpel's shapes (every fc layer keeps its nodes)
rm -rf "$DIR/models5" && mkdir -p "$DIR/models5" && cp "$DIR/models/lenet300-dense.scpn" "$DIR/models5/"
"$BIN" $TINY --resume --keep-dead --out "$DIR/models5" >"$DIR/run5.txt" 2>"$DIR/err5.txt"
check "resume from a dense model: exits 0 ($(tail -n 3 "$DIR/err5.txt" | tr '\n' ' '))" test $? -eq 0
check "the saved dense model is the dense network" grep -q "resumed: loaded .*models5/lenet300-dense.scpn" "$DIR/err5.txt"
check "no dense epoch ran" sh -c "! grep -q -E 'dense +epoch' \"$DIR/err5.txt\""
check "pruning ran" grep -q -E "simd +epoch" "$DIR/err5.txt"
check "--keep-dead: fc1 keeps its 300 nodes" grep -q -E "^  layer 0 fc: 300 -> 300 nodes" "$DIR/err5.txt"
grep "^| Dense" "$DIR/run1.txt" | cut -d'|' -f2-4 >"$DIR/d1.txt"
grep "^| Dense" "$DIR/run5.txt" | cut -d'|' -f2-4 >"$DIR/d5.txt"
check "the same dense error and size" cmp -s "$DIR/d1.txt" "$DIR/d5.txt"
rm -rf "$DIR/models6" && mkdir -p "$DIR/models6" && cp models/lenet5-dense.scpn "$DIR/models6/lenet300-dense.scpn"
"$BIN" $TINY --resume --out "$DIR/models6" >"$DIR/out.txt" 2>"$DIR/err6.txt"
check "a dense model of another network is not used" sh -c "test $? -eq 0 && grep -q 'is not a lenet300: training afresh' \"$DIR/err6.txt\" && grep -q -E 'dense +epoch +1/1' \"$DIR/err6.txt\""

# 4. the command line
expect_usage() { # expect_usage WHAT ARGS...: exit status 2 and a message on stderr
  what=$1; shift
  "$BIN" "$@" >"$DIR/out.txt" 2>"$DIR/err.txt"
  st=$?
  if [ "$st" -eq 2 ] && [ -s "$DIR/err.txt" ]; then passed; else failed "$what: exit $st"; fi
}
expect_usage "unknown option" --bogus
expect_usage "unknown network" --net vgg
expect_usage "learning rate not a number" --lr abc
expect_usage "learning rate with junk" --lr 0.1x
expect_usage "negative epochs" --epochs -3
expect_usage "fractional epochs" --epochs 2.5
expect_usage "tolerance above 1" --tolerance 2
expect_usage "rate-keep of 1" --rate-keep 1
expect_usage "rate-max of 1" --rate-max 1
expect_usage "unknown layer order" --order fastest
expect_usage "order without its value" --order
expect_usage "order with a bad index" --order 0,x
expect_usage "order with an empty index" --order 0,,2
expect_usage "order index out of range" --order 99
expect_usage "layer cap without its rate" --layer-rate-max 3
expect_usage "layer cap, layer out of range" --layer-rate-max 99:0.5
expect_usage "layer cap, rate above 1" --layer-rate-max 0:1.5
expect_usage "layer cap without its layer" --layer-rate-max :0.5
expect_usage "lambda factor below 1" --lambda-factor 0.5
expect_usage "lambda factor not a number" --lambda-factor x
expect_usage "option without its value" --out
"$BIN" --help >"$DIR/out.txt" 2>&1
check "--help exits 0 with the usage" sh -c "test $? -eq 0 && grep -q usage \"$DIR/out.txt\""
"$BIN" --synthetic --hw no-such-profile --out "$DIR/models" >"$DIR/out.txt" 2>"$DIR/err.txt"
check "unknown hardware profile fails with a message" sh -c "test $? -eq 1 && grep -q -i profile \"$DIR/err.txt\""

echo "test_mnist: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
