#!/bin/sh
# qemu_aarch64_tool.sh - runs the AArch64 build of the scalpel tool named by $SCALPEL_A64_TOOL
# under qemu-aarch64, so that tests/test_torch_ops.py (SCALPEL_CLI=this script) checks the NEON
# kernels against PyTorch on an x86 machine.
exec qemu-aarch64 "$SCALPEL_A64_TOOL" "$@"
