#!/bin/sh
# test_consumer.sh -- Scalpel used from outside its tree, the four ways a project can take it:
#   1. make install into a staging root (DESTDIR), then CMake find_package(scalpel)
#   2. CMake add_subdirectory of the source tree
#   3. pkg-config against the staged scalpel.pc
#   4. Cortex-M4 firmware through cmake/arm-none-eabi.cmake and find_package, run on QEMU
# Each builds tests/consumer/main.c, which prunes a matrix and checks W . x and W . B, and runs
# it. Then make uninstall must leave the staging root empty, and a second install over a
# first, or an uninstall with nothing installed, must be refused.
# usage: sh tests/test_consumer.sh [BUILD_DIR]      (run from anywhere; exit 0 = all passed)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build/consumer}
B=$(mkdir -p "$B" && cd "$B" && pwd)
S=$B/stage
P=/usr/local
pass=0
ok() { pass=$((pass + 1)); echo "  ok   $*"; }
die() { echo "FAIL test_consumer: $*" >&2; exit 1; }
rm -rf "$S" "$B/pkg" "$B/sub" "$B/m4" "$B/pc"
cd "$ROOT"

echo "== install into $S$P"
make --no-print-directory install DESTDIR="$S" PREFIX="$P" CLI_CFLAGS=-O1 >"$B/install.log" 2>&1 ||
  { cat "$B/install.log"; die "make install failed"; }
version=$(sed -n 's/^#define SCALPEL_VERSION_STRING "\(.*\)"$/\1/p' scalpel_format.h)
out=$("$S$P/bin/scalpel" --version) || die "installed scalpel --version failed"
case "$out" in *"$version"*) ok "installed tool runs: $out" ;; *) die "scalpel --version said '$out', not $version" ;; esac
for f in include/scalpel/scalpel.h include/scalpel/single/scalpel.h share/pkgconfig/scalpel.pc \
         share/cmake/scalpel/scalpelConfig.cmake; do
  [ -f "$S$P/$f" ] || die "install did not write $P/$f"
done
ok "headers, one-file header, scalpel.pc and CMake package installed"
if make --no-print-directory install DESTDIR="$S" PREFIX="$P" CLI_CFLAGS=-O1 >"$B/install2.log" 2>&1; then
  die "a second install over the first was not refused"
fi
grep -q "already installed" "$B/install2.log" || die "second install: no clear message"
ok "a second install is refused: $(grep 'already installed' "$B/install2.log")"

# cmake_consumer NAME WHAT CMAKE-ARGS...: configure and build tests/consumer into $B/NAME
cmake_consumer() {
  name=$1 what=$2
  shift 2
  cmake -S tests/consumer -B "$B/$name" "$@" >"$B/$name.log" 2>&1 ||
    { cat "$B/$name.log"; die "cmake configure ($what) failed"; }
  cmake --build "$B/$name" >>"$B/$name.log" 2>&1 || { cat "$B/$name.log"; die "build ($what) failed"; }
}

echo "== 1. CMake find_package"
cmake_consumer pkg find_package -DSCALPEL_USE=package -DCMAKE_PREFIX_PATH="$S$P"
"$B/pkg/consumer" || die "find_package build: wrong products"
ok "find_package(scalpel 0.1) build runs"
echo "== 2. CMake add_subdirectory"
cmake_consumer sub add_subdirectory -DSCALPEL_USE=subdirectory -DSCALPEL_SOURCE_DIR="$ROOT"
"$B/sub/consumer" || die "add_subdirectory build: wrong products"
ok "add_subdirectory build runs"

echo "== 3. pkg-config"
export PKG_CONFIG_PATH="$S$P/share/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$S"
[ "$(pkg-config --modversion scalpel)" = "$version" ] || die "pkg-config --modversion is not $version"
flags=$(pkg-config --cflags --libs scalpel) || die "pkg-config --cflags --libs scalpel failed"
mkdir -p "$B/pc"
# shellcheck disable=SC2086 # $flags is a list
cc -std=c99 -O2 tests/consumer/main.c $flags -o "$B/pc/consumer" || die "cc with pkg-config flags failed: $flags"
"$B/pc/consumer" || die "pkg-config build: wrong products"
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
ok "pkg-config build runs ($flags)"

echo "== 4. Cortex-M4 firmware: toolchain file + find_package, on QEMU"
cmake_consumer m4 Cortex-M4 -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/arm-none-eabi.cmake" -DSCALPEL_CORTEX_M=m4 \
  -DSCALPEL_USE=package -DCMAKE_PREFIX_PATH="$S$P" -DCORTEX_M_DIR="$ROOT/tests/cortex-m" -DCMAKE_BUILD_TYPE=Release
sh tests/cortex-m/run.sh m4 "$B/m4/consumer" || die "Cortex-M4 firmware failed on QEMU"
ok "Cortex-M4 firmware runs on QEMU"

echo "== uninstall"
make --no-print-directory uninstall DESTDIR="$S" PREFIX="$P" >"$B/uninstall.log" 2>&1 ||
  { cat "$B/uninstall.log"; die "make uninstall failed"; }
left=$(find "$S" -mindepth 1 | head -5)
[ -z "$left" ] || die "make uninstall left: $left"
ok "make uninstall leaves the staging root empty"
if make --no-print-directory uninstall DESTDIR="$S" PREFIX="$P" >"$B/uninstall2.log" 2>&1; then
  die "uninstall with nothing installed was not refused"
fi
ok "uninstall with nothing installed is refused: $(grep 'nothing installed' "$B/uninstall2.log")"
# a directory that held something before the install keeps it
mkdir -p "$S$P/bin" && echo keep >"$S$P/bin/other-tool"
make --no-print-directory install DESTDIR="$S" PREFIX="$P" CLI_CFLAGS=-O1 >/dev/null 2>&1 || die "reinstall failed"
make --no-print-directory uninstall DESTDIR="$S" PREFIX="$P" >/dev/null 2>&1 || die "second uninstall failed"
[ "$(cat "$S$P/bin/other-tool")" = keep ] || die "uninstall touched a file it did not install"
[ "$(find "$S" -type f | wc -l)" -eq 1 ] || die "uninstall left files of its own: $(find "$S" -type f)"
ok "uninstall keeps what was there before (bin/other-tool) and removes only its own files"
# a file of the user's at one of the install's paths is never replaced
echo mine >"$S$P/bin/scalpel"
if make --no-print-directory install DESTDIR="$S" PREFIX="$P" CLI_CFLAGS=-O1 >"$B/install3.log" 2>&1; then
  die "install over a file it did not write was not refused"
fi
grep -q "already exists and is not from a Scalpel install" "$B/install3.log" || die "no clear message for a foreign file"
[ "$(cat "$S$P/bin/scalpel")" = mine ] || die "install replaced the user's bin/scalpel"
make --no-print-directory uninstall DESTDIR="$S" PREFIX="$P" >/dev/null 2>&1 || die "uninstall after the refused install failed"
[ "$(cat "$S$P/bin/scalpel")" = mine ] && [ "$(cat "$S$P/bin/other-tool")" = keep ] || die "uninstall touched the user's files"
ok "install refuses to replace the user's bin/scalpel, and uninstall then removes only what it wrote"
rm -rf "$S"
echo "test_consumer: $pass passed, 0 failed"
