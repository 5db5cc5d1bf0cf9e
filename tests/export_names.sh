#!/bin/sh
# export_names.sh - the names the C export accepts and refuses (tests/export_names.c).
#
#   sh tests/export_names.sh BUILD_DIR
#
# 1. export_names: every tricky name it lists (typeof, unix, concept, co_await, scalpel_net,
#    int8_t, memcpy, stdin, EOF, SIZE_MAX, SCALPEL_H, main, a__b, _Foo, ...) is refused by both
#    exports with its reason, networks with no layers are refused (float and q15), and a
#    network is exported under each accepted name (model, lenet5, Net_2, my_scalpel, x, ...).
# 2. Those headers, all in one program, compile with -Wall -Wextra -Werror next to the standard
#    headers as gcc -std=gnu17, gcc -std=c99 -pedantic, clang -std=c11, g++ -std=c++11 and
#    g++ -std=c++20, and link (the networks' shapes are checked).
# 3. Every name that scalpel.h with its implementation declares or defines on this machine
#    (gcc -std=gnu17, and g++ -std=gnu++20, where glibc shows its GNU names) is refused:
#    each identifier of the preprocessed headers that scalpel_export_name_problem accepts is
#    declared as a variable after them, which must compile, and no macro of -dM is accepted.
# Ends with "export_names_sh: N passed, M failed" (the steps and export_names' own checks); exit
# status 0 only when nothing failed.
set -u
if [ $# -ne 1 ]; then
  echo "usage: sh tests/export_names.sh BUILD_DIR" >&2
  exit 2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1/export_names" || exit 2
D=$(cd "$1/export_names" && pwd)
cd "$ROOT" || exit 2
rm -f "$D"/*.h "$D"/*.c "$D"/*.txt
W="-Wall -Wextra -Werror"
PASSED=0
FAILED=0

# step WHAT CMD...: one check; its output shows when it fails
step() {
  what=$1; shift
  if "$@" >"$D/step.txt" 2>&1; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    echo "FAIL: $what"
    tail -n 20 "$D/step.txt" | sed 's/^/      /'
  fi
}

step "export_names builds" gcc -std=c99 -pedantic $W -O0 -I. tests/export_names.c -o "$D/export_names" -lm
step "export_names" "$D/export_names" "$D"
counts=$(grep -E '^export_names: [0-9]+ passed, [0-9]+ failed' "$D/step.txt")
echo "${counts:-export_names: no summary}"
if [ -n "$counts" ]; then # its checks count too (the step itself is counted above)
  PASSED=$((PASSED + $(echo "$counts" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
  FAILED=$((FAILED + $(echo "$counts" | sed -E 's/.*, ([0-9]+) failed.*/\1/')))
fi

SRC="tests/export_names_check.c $D/export_names_q.c"
INC="-I. -Itests -I$D"
step "gcc -std=gnu17" sh -c "gcc -std=gnu17 $W $INC $SRC -o $D/check-gnu17 && $D/check-gnu17"
step "gcc -std=c99 -pedantic" sh -c "gcc -std=c99 -pedantic $W $INC $SRC -o $D/check-c99 && $D/check-c99"
step "clang -std=c11" sh -c "clang -std=c11 $W $INC $SRC -o $D/check-clang && $D/check-clang"
step "g++ -std=c++11" sh -c "g++ -std=c++11 $W $INC -x c++ $SRC -o $D/check-cpp11 && $D/check-cpp11"
step "g++ -std=c++20" sh -c "g++ -std=c++20 $W $INC -x c++ $SRC -o $D/check-cpp20 && $D/check-cpp20"

# 3. every name the headers declare or define here is refused
printf '#define SCALPEL_IMPLEMENTATION\n#include "scalpel.h"\n' >"$D/all.c"
probe() { # probe LABEL COMPILER...: declares every identifier export_names accepts, checks macros
  label=$1; shift
  "$@" -E -P -I. "$D/all.c" >"$D/pp-$label.txt" || return 1
  grep -oE '\b[A-Za-z][A-Za-z0-9_]*\b' "$D/pp-$label.txt" | sort -u >"$D/ids-$label.txt"
  [ "$(wc -l <"$D/ids-$label.txt")" -gt 1000 ] || { echo "the preprocessed headers hold too few names"; return 1; }
  "$D/export_names" --refused <"$D/ids-$label.txt" | sed -n 's/^accepted: //p' >"$D/ok-$label.txt"
  { cat "$D/pp-$label.txt"; echo 'typedef struct export_names_s { int a; } export_names_s;'
    sed 's/.*/static const export_names_s & = { 0 };/' "$D/ok-$label.txt"; } >"$D/decl-$label.txt"
  "$@" -fsyntax-only -w "$D/decl-$label.txt" || return 1
  "$@" -dM -E -I. "$D/all.c" | awk '{ sub(/\(.*/, "", $2); print $2 }' | grep -v '^_' >"$D/macros-$label.txt"
  "$D/export_names" --refused <"$D/macros-$label.txt"
}
step "every name scalpel.h declares or defines (gcc -std=gnu17) is refused" probe c gcc -std=gnu17 -x c
step "every name scalpel.h declares or defines (g++ -std=gnu++20) is refused" probe cpp g++ -std=gnu++20 -x c++

echo "export_names_sh: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
