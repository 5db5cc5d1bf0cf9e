# Scalpel - header-only library; nothing to build to use it. This Makefile runs its checks.
#
#   make test        every test (tests/run_all.sh): sanitizers, backends, compile matrix,
#                    amalgamation, fuzzing, AArch64 NEON and Cortex-M4/M55 under QEMU, examples.
#                    As root it first installs missing Debian packages (tools/deps.sh test).
#   make bench       kernel benchmarks vs OpenBLAS and Eigen (bench/), single-threaded, then
#                    the Cortex-M4/M55 matrix-vector sweep counted under QEMU (bench-cortex-m)
#   make dist        dist/scalpel.h, the one-file build of every header (amalgamate.py)
#   make examples    build examples/ into build/examples
#   make clean

CC ?= cc
EXAMPLES = $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))

.PHONY: test bench bench-cortex-m dist examples clean

test:
	sh tests/run_all.sh

bench:
	sh tools/deps.sh bench
	$(MAKE) -C bench run
	$(MAKE) bench-cortex-m

# The paper's Cortex-M matrix-vector sweep, counted (instructions, estimated cycles) under QEMU.
bench-cortex-m:
	@mkdir -p build/bench
	@for core in m4 m55; do \
	  sh tests/cortex-m/run.sh count $$core build/bench/cortex_m-$$core.elf bench/cortex_m.c \
	    | python3 bench/cortex_m_table.py $$core || exit 1; echo; \
	done

dist:
	python3 amalgamate.py

examples: $(EXAMPLES)

build/examples/%: examples/%.c scalpel.h scalpel_format.h scalpel_kernels.h
	@mkdir -p build/examples
	$(CC) -O2 -march=native -I. $< -o $@ -lm

clean:
	rm -rf build dist
	$(MAKE) -C bench clean
