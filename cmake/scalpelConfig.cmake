# scalpelConfig.cmake -- find_package(scalpel) after `make install` (or CMake's install):
# defines the INTERFACE target scalpel::scalpel. Options (SCALPEL_ZLIB, SCALPEL_NO_SIMD,
# SIMDE_INCLUDE_DIR) are read when it is found; see scalpel_target.cmake.
#
#   find_package(scalpel 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE scalpel::scalpel)
#
# The headers are looked up relative to this file (PREFIX/share/cmake/scalpel), so a staged
# (DESTDIR) or relocated install works as well as the installed prefix.
include("${CMAKE_CURRENT_LIST_DIR}/scalpel_target.cmake")
get_filename_component(_scalpel_prefix "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
if(NOT EXISTS "${_scalpel_prefix}/include/scalpel/scalpel.h")
  set(scalpel_FOUND FALSE)
  set(scalpel_NOT_FOUND_MESSAGE "scalpel: ${_scalpel_prefix}/include/scalpel/scalpel.h is missing")
  return()
endif()
if(NOT TARGET scalpel::scalpel)
  add_library(scalpel::scalpel INTERFACE IMPORTED)
  scalpel_configure_target(scalpel::scalpel "${_scalpel_prefix}/include/scalpel")
endif()
set(scalpel_INCLUDE_DIR "${_scalpel_prefix}/include/scalpel")
unset(_scalpel_prefix)
