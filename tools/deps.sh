#!/bin/sh
# deps.sh -- install the Debian (bookworm) packages that Scalpel's tests and benchmarks need
#
# usage: tools/deps.sh [demo|test|bench]      (default: bench, which is everything)
#
#   demo   what `make demo` and `make reproduce` need: gcc make zlib1g-dev (a C compiler with
#          OpenMP, and zlib for the gzip'd MNIST files)
#   test   what `make test` needs:
#            gcc g++ clang make python3     host compilers (C and C++ builds), amalgamate.py
#            libclang-rt-14-dev             clang's sanitizer and libFuzzer runtimes; clang only
#                                           recommends it, so --no-install-recommends drops it
#            libsimde-dev                   the portable SIMD layer of the host kernels
#            gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
#                                           Cortex-M cross builds run under QEMU (tests/cortex-m)
#            gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
#                                           the NEON backend, cross-built and run by qemu-aarch64
#            zlib1g-dev                     gzip'd MNIST files in the training module (SCALPEL_ZLIB)
#            cmake pkgconf                  the consumer test: CMake find_package and
#                                           add_subdirectory, pkg-config (tests/test_consumer.sh)
#            python3-matplotlib             bench/plots.py, tested on the tables in docs/
#            python3-numpy python3-torch    write the safetensors test files and compute their
#                                           reference outputs (numpy's, and PyTorch's own for the
#                                           PyTorch parity test), under Debian's /usr/bin/python3
#            python3-onnx python3-torchvision  the converters' tests: ONNX files exported by
#                                           PyTorch, torchvision's mobilenet_v2 and resnet18
#            python3-pip                    pip install ./python, offline, in the converters'
#                                           test (with its setuptools and wheel)
#   bench  what `make bench` needs: all of the above (benchmarks also run the Cortex-M
#          instruction counts) plus the dense baselines we compare against:
#            libopenblas-dev libeigen3-dev
#
# Packages already installed are left alone; when nothing is missing the script does nothing.
# As root it runs apt-get update and installs the missing ones without recommended packages
# (qemu-system-arm alone would otherwise pull in ~600 MB of GUI libraries). As any other user
# it prints the command to run and exits 1.
set -eu

TEST_PKGS="gcc g++ clang libclang-rt-14-dev make python3 libsimde-dev
gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user python3-numpy python3-torch zlib1g-dev
cmake pkgconf python3-matplotlib python3-onnx python3-torchvision python3-pip"
BENCH_PKGS="$TEST_PKGS libopenblas-dev libeigen3-dev libxnnpack-dev libpthreadpool-dev"
DEMO_PKGS="gcc make zlib1g-dev"

case "${1:-bench}" in
  demo) PKGS=$DEMO_PKGS ;;
  test) PKGS=$TEST_PKGS ;;
  bench) PKGS=$BENCH_PKGS ;;
  -h | --help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [demo|test|bench]" >&2; exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1; then
  echo "deps.sh: dpkg-query not found; this script is for Debian (bookworm)." >&2
  # shellcheck disable=SC2086 # one line, names separated by spaces
  echo "Install these packages (or their equivalents) by hand:" $PKGS >&2
  exit 1
fi

missing=
for pkg in $PKGS; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing="$missing $pkg"
done
missing=${missing# }

if [ -z "$missing" ]; then
  echo "deps.sh: all ${1:-bench} dependencies are installed"
  exit 0
fi

install="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"
if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: $missing" >&2
  echo "Run as root (for example with sudo):" >&2
  echo "  apt-get update && $install" >&2
  exit 1
fi

echo "deps.sh: installing: $missing"
apt-get update
# shellcheck disable=SC2086 # $missing is a list of package names
DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
