# Scalpel - header-only library; nothing to build to use it. This Makefile runs its checks.
#
#   make demo        the main job: trains LeNet-300-100 on MNIST (short schedule, a few minutes on
#                    2 cores), prunes it the Traditional and the Scalpel way for this CPU and
#                    prints the comparison table (examples/mnist.c; models in build/models).
#                    MNIST from $$SCALPEL_MNIST_DIR or ../shared/data/mnist, else a built-in
#                    synthetic dataset (it says so, and how to get MNIST)
#   make reproduce   the full reproduction of the paper's MNIST tables: LeNet-300-100 and
#                    LeNet-5, --full schedules (docs/RESULTS.md; models in build/models/full)
#   make results-torch  the same networks and three Fashion-MNIST ones pruned in PyTorch
#                    (scalpel.torch, examples/prune_torch.py; docs/pytorch-pruning.md)
#   make test        every test (tests/run_all.sh): sanitizers, backends, compile matrix,
#                    amalgamation, fuzzing, AArch64 NEON and Cortex-M4/M55 under QEMU, examples.
#                    As root it first installs missing Debian packages (tools/deps.sh test).
#   make test-full   make test and six steps that repeat others' checks under a second
#                    compiler or backend (left out of make test for time)
#   make bench       kernel benchmarks vs OpenBLAS and Eigen (bench/), single-threaded, then
#                    the Cortex-M4/M55 sweeps counted under QEMU (bench-cortex-m: fp32, and the
#                    paper's Figure 9 in q15 / q7, the dense q7 layers against CMSIS-NN's s8
#                    figures with PASS/MISS, the depthwise convolution of the MLPerf Tiny
#                    models, the four MLPerf Tiny models end to end in q7 on the M4 and M55,
#                    dense and pruned: bench/cortex_m_mlperf.py) and the LeNets end to end on
#                    the M4 in q15
#                    (bench-cortex-m-lenet; docs/microcontrollers.md); then PNG plots of it all
#                    in build/bench/plots (bench/plots.py, matplotlib)
#   make dist        dist/scalpel.h, the one-file build of every header (amalgamate.py)
#   make install     PREFIX=/usr/local (default) DESTDIR= (staging root, for packagers): the
#                    headers in PREFIX/include/scalpel (the one-file build in .../single), the
#                    `scalpel` tool, scalpel.pc and the CMake package (tools/install.sh says
#                    where each goes). CLI_CFLAGS (default -O2 -march=native: this machine;
#                    packagers pass e.g. CLI_CFLAGS=-O2) and ZLIB=1 (gzip'd IDX) for the tool.
#   make uninstall   the same PREFIX and DESTDIR: removes exactly what install wrote
#   make examples    build examples/ into build/examples
#   make clean

CC ?= cc
EXAMPLES = $(patsubst examples/%.c,build/examples/%,$(wildcard examples/*.c))

.PHONY: test test-full demo reproduce results-torch bench bench-cortex-m bench-cortex-m-lenet dist examples clean install uninstall

test:
	sh tests/run_all.sh

# make test and the steps it leaves out for time: the same tests again under a second compiler
# (clang with the sanitizers beside gcc's, the tool's script on a clang build) or backend
# (AlexNet layer by layer on NEON under QEMU)
test-full:
	SCALPEL_TEST_FULL=1 sh tests/run_all.sh

# The training example with OpenMP (both cores for the conv layers) and zlib (gzip'd MNIST).
build/mnist: examples/mnist.c scalpel.h scalpel_format.h scalpel_kernels.h scalpel_train.h
	sh tools/deps.sh demo
	@mkdir -p build
	$(CC) -O2 -march=native -fopenmp -DSCALPEL_ZLIB -I. examples/mnist.c -o $@ -lz -lm

demo: build/mnist
	./build/mnist --quick --net lenet300 --out build/models

reproduce: build/mnist
	./build/mnist --full --net lenet300 --out build/models/full
	./build/mnist --full --net lenet5 --out build/models/full

# scalpel.torch's results (docs/pytorch-pruning.md): the LeNets on MNIST, DS-CNN, ResNet-8 and
# the ConvNet on Fashion-MNIST, trained and pruned in PyTorch for x86-avx2 and cortex-m4, and
# LeNet-5 on 1 and 2 processes; measured by the C tool and on the emulated M4. Hours on 2 cores.
results-torch:
	sh tools/torch_results.sh build/torch-results

# Each part's output is also kept in build/bench/*.log; bench/plots.py draws the PNG plots of
# build/bench/plots from those logs (relative time against pruning rate, networks against the
# paper, the Cortex-M sweeps). Without matplotlib it says so and the tables stand alone.
bench:
	sh tools/deps.sh bench
	@mkdir -p build/bench
	{ $(MAKE) -C bench run; echo $$? >build/bench/run.status; } 2>&1 | tee build/bench/run.log; exit $$(cat build/bench/run.status)
	{ $(MAKE) --no-print-directory bench-cortex-m; echo $$? >build/bench/cortex-m.status; } 2>&1 | tee build/bench/cortex-m.log; exit $$(cat build/bench/cortex-m.status)
	$(MAKE) bench-cortex-m-lenet
	/usr/bin/python3 bench/plots.py build/bench/plots build/bench/run.log build/bench/cortex-m.log

# The paper's Cortex-M matrix-vector sweep, counted (instructions, estimated cycles) under QEMU.
bench-cortex-m:
	@mkdir -p build/bench
	@for core in m4 m55; do \
	  sh tests/cortex-m/run.sh count $$core build/bench/cortex_m-$$core.elf bench/cortex_m.c \
	    | python3 bench/cortex_m_table.py $$core || exit 1; echo; \
	done
	@for core in m4 m55; do \
	  sh tests/cortex-m/run.sh count $$core build/bench/cortex_m_q-$$core.elf bench/cortex_m_q.c \
	    | python3 bench/cortex_m_q_table.py $$core || exit 1; echo; \
	done
	/usr/bin/python3 bench/cortex_m_dense_q.py
	/usr/bin/python3 bench/cortex_m_dw.py
	/usr/bin/python3 bench/cortex_m_mlperf.py

# LeNet-300-100 and LeNet-5 in q15 on the M4: dense, Traditional, Scalpel; cycles, size, stack.
bench-cortex-m-lenet:
	python3 bench/cortex_m_lenet.py

dist:
	python3 amalgamate.py

PREFIX ?= /usr/local
DESTDIR ?=
CLI_CFLAGS ?= -O2 -march=native
ZLIB ?=
CLI_ZLIB = $(if $(ZLIB),-DSCALPEL_ZLIB,)
CLI_ZLIB_LIB = $(if $(ZLIB),-lz,)

# the tool as installed: always rebuilt, so that CLI_CFLAGS and ZLIB take effect
install:
	python3 amalgamate.py
	@mkdir -p build/install
	$(CC) $(CLI_CFLAGS) $(CLI_ZLIB) -I. examples/scalpel_cli.c -o build/install/scalpel -lm $(CLI_ZLIB_LIB)
	sh tools/install.sh install "$(PREFIX)" "$(DESTDIR)" build/install/scalpel

uninstall:
	sh tools/install.sh uninstall "$(PREFIX)" "$(DESTDIR)"

examples: $(EXAMPLES)

build/examples/%: examples/%.c scalpel.h scalpel_format.h scalpel_kernels.h scalpel_train.h
	@mkdir -p build/examples
	$(CC) -O2 -march=native -I. $< -o $@ -lm

clean:
	rm -rf build dist
	$(MAKE) -C bench clean
