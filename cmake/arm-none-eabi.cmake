# arm-none-eabi.cmake -- a CMake toolchain file for Cortex-M firmware with GNU Arm's
# arm-none-eabi-gcc (Debian: gcc-arm-none-eabi libnewlib-arm-none-eabi).
#
#   cmake -S . -B build-m4 -DCMAKE_TOOLCHAIN_FILE=path/to/scalpel/cmake/arm-none-eabi.cmake \
#         -DSCALPEL_CORTEX_M=m4
#
# SCALPEL_CORTEX_M picks the core and its floating-point ABI: m3 (soft float), m4 (FPv4, DSP:
# q15 kernels with SMLAD), m7 (FPv5, DSP) or m55 (Helium: the MVE kernels). scalpel::scalpel
# needs nothing more for these targets (no SIMDe; the ACLE intrinsics come with the compiler).
# Your project still supplies what every firmware image needs and no toolchain file can know:
# startup code, a linker script for the board's memory, and the C library's system calls
# (e.g. --specs=nosys.specs, or --specs=rdimon.specs for semihosting under a debugger or QEMU).
# tests/consumer/ builds one this way and runs it on QEMU's mps2-an386 (Cortex-M4) board.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_CXX_COMPILER arm-none-eabi-g++)
set(CMAKE_ASM_COMPILER arm-none-eabi-gcc)
# no executable can link without the board's startup code and linker script
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)

set(SCALPEL_CORTEX_M "m4" CACHE STRING "Cortex-M core: m3, m4, m7 or m55")
set_property(CACHE SCALPEL_CORTEX_M PROPERTY STRINGS m3 m4 m7 m55)
if(SCALPEL_CORTEX_M STREQUAL "m3")
  set(_scalpel_cpu "-mcpu=cortex-m3 -mthumb -mfloat-abi=soft")
elseif(SCALPEL_CORTEX_M STREQUAL "m4")
  set(_scalpel_cpu "-mcpu=cortex-m4 -mthumb -mfpu=fpv4-sp-d16 -mfloat-abi=hard")
elseif(SCALPEL_CORTEX_M STREQUAL "m7")
  set(_scalpel_cpu "-mcpu=cortex-m7 -mthumb -mfpu=fpv5-d16 -mfloat-abi=hard")
elseif(SCALPEL_CORTEX_M STREQUAL "m55")
  set(_scalpel_cpu "-mcpu=cortex-m55 -mthumb -mfpu=auto -mfloat-abi=hard")
else()
  message(FATAL_ERROR "SCALPEL_CORTEX_M='${SCALPEL_CORTEX_M}': expected m3, m4, m7 or m55")
endif()
set(CMAKE_C_FLAGS_INIT "${_scalpel_cpu} -ffunction-sections -fdata-sections")
set(CMAKE_CXX_FLAGS_INIT "${_scalpel_cpu} -ffunction-sections -fdata-sections")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_scalpel_cpu} -Wl,--gc-sections")
# look for programs on the host, for libraries and headers only in the cross environment
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
# Scalpel is header-only, so an install of it on the host (find_package) serves firmware too
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
