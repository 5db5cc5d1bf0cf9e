# scalpel_target.cmake -- the usage requirements of Scalpel's INTERFACE target, shared by the
# source tree's CMakeLists.txt (add_subdirectory) and the installed scalpelConfig.cmake
# (find_package). Scalpel is header-only: the target carries no code, only what a program that
# includes scalpel.h needs.
#
#   scalpel_configure_target(TARGET INCLUDE_DIR)
#
# Options, read from the caller's cache or variables (set them before add_subdirectory or
# find_package):
#   SCALPEL_ZLIB     ON: gzip'd IDX files (MNIST .gz): defines SCALPEL_ZLIB and links zlib
#   SCALPEL_NO_SIMD  ON: plain C kernels; no SIMDe needed
#   SIMDE_INCLUDE_DIR  where SIMDe's headers are, when not on the default include path
# On a hosted x86 or ARM (A-profile) target the kernels use SIMDe's headers: they are searched
# for, added to the include path, and their absence is a configure error that says what to do.
# Bare-metal builds (CMAKE_SYSTEM_NAME Generic: Cortex-M) use the ACLE DSP / Helium intrinsics
# and need nothing. libm is linked where the platform has one.
include_guard(GLOBAL)

function(scalpel_configure_target target include_dir)
  target_include_directories(${target} INTERFACE "${include_dir}")
  if(SCALPEL_NO_SIMD)
    target_compile_definitions(${target} INTERFACE SCALPEL_NO_SIMD)
  elseif(NOT CMAKE_SYSTEM_NAME STREQUAL "Generic")
    find_path(SIMDE_INCLUDE_DIR simde/x86/avx2.h DOC "directory holding SIMDe's simde/ headers")
    if(NOT SIMDE_INCLUDE_DIR)
      message(FATAL_ERROR "scalpel: SIMDe's headers (simde/x86/avx2.h) were not found. Install them "
                          "(Debian: apt-get install libsimde-dev), set SIMDE_INCLUDE_DIR, or set "
                          "SCALPEL_NO_SIMD=ON for plain C kernels.")
    endif()
    target_include_directories(${target} SYSTEM INTERFACE "${SIMDE_INCLUDE_DIR}")
  endif()
  if(SCALPEL_ZLIB)
    find_package(ZLIB REQUIRED)
    target_compile_definitions(${target} INTERFACE SCALPEL_ZLIB)
    target_link_libraries(${target} INTERFACE ZLIB::ZLIB)
  endif()
  if(NOT CMAKE_SYSTEM_NAME STREQUAL "Generic")
    find_library(SCALPEL_LIBM m)
    if(SCALPEL_LIBM)
      target_link_libraries(${target} INTERFACE ${SCALPEL_LIBM})
    endif()
  else()
    target_link_libraries(${target} INTERFACE m)
  endif()
endfunction()
