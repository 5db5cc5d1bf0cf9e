#!/bin/sh
# test_plots.sh -- bench/plots.py on the benchmark tables kept in docs/ (real runs): every plot
# it knows is written as a PNG; a log without tables is an error; and without matplotlib it
# says so and exits 0 (make bench must still end with its tables).
# usage: sh tests/test_plots.sh [BUILD_DIR]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build/plots-test}
PY=/usr/bin/python3
rm -rf "$B" && mkdir -p "$B"
die() { echo "FAIL test_plots: $*" >&2; exit 1; }
pass=0
"$PY" "$ROOT/bench/plots.py" "$B/png" "$ROOT/docs/benchmarks.md" "$ROOT/docs/microcontrollers.md" >"$B/out.txt" ||
  { cat "$B/out.txt"; die "plots.py failed on docs/"; }
for f in spmv-4096.png spmv-2048.png spmm.png networks.png cortex-m4-q15-matrix-vector-100x100-csr-g-1-and-grouped-g-2.png; do
  [ -f "$B/png/$f" ] || die "no $f (wrote: $(cat "$B/out.txt"))"
  [ "$(head -c 8 "$B/png/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || die "$f is not a PNG"
  pass=$((pass + 1))
done
printf 'no tables here\n' >"$B/empty.log"
if "$PY" "$ROOT/bench/plots.py" "$B/png2" "$B/empty.log" >"$B/out2.txt" 2>&1; then die "a log without tables was accepted"; fi
grep -q "no table it knows" "$B/out2.txt" || die "no clear message for a log without tables"
pass=$((pass + 1))
# matplotlib hidden: a message, exit 0, nothing written
"$PY" -c "import sys, runpy; sys.modules['matplotlib'] = None; sys.argv = ['plots.py', '$B/png3', '$ROOT/docs/benchmarks.md']; runpy.run_path('$ROOT/bench/plots.py', run_name='__main__')" >"$B/out3.txt" 2>&1 ||
  { cat "$B/out3.txt"; die "without matplotlib plots.py did not exit 0"; }
grep -q "matplotlib is not installed" "$B/out3.txt" || die "without matplotlib: no message"
[ ! -d "$B/png3" ] || die "without matplotlib something was written"
pass=$((pass + 1))
echo "test_plots: $pass passed, 0 failed"
