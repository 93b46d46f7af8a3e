# SPDX-License-Identifier: Apache-2.0
# Fails if a file links the CUDA driver directly: a NEEDED entry for
# libcuda.so (readelf -d) or an undefined driver symbol cu[A-Z]* (nm -u).
# evpool reaches the driver only through cudaGetDriverEntryPointByVersion
# (src/backend/cuda_driver.h), so its binaries start where no driver is
# installed.
#
#   cmake -DREADELF=... -DNM=... -DFILES="a;b" -P check_no_libcuda.cmake
set(bad "")
foreach(f IN LISTS FILES)
  if(NOT EXISTS "${f}")
    message(FATAL_ERROR "no such file: ${f}")
  endif()
  execute_process(COMMAND ${READELF} -d "${f}" OUTPUT_VARIABLE dyn ERROR_QUIET)
  if(dyn MATCHES "NEEDED[^\n]*libcuda")
    string(APPEND bad "${f}: needs libcuda.so (readelf -d)\n")
  endif()
  execute_process(COMMAND ${NM} -u "${f}" OUTPUT_VARIABLE undef RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${NM} -u ${f} failed (${rc})")
  endif()
  string(REGEX MATCHALL "U cu[A-Z][A-Za-z0-9_]*" syms "${undef}")
  if(syms)
    list(REMOVE_DUPLICATES syms)
    string(REPLACE "U " "" syms "${syms}")
    string(APPEND bad "${f}: references driver symbols ${syms} (nm -u)\n")
  endif()
endforeach()
list(LENGTH FILES n)
if(bad)
  message(FATAL_ERROR "CUDA driver linked directly:\n${bad}")
endif()
message(STATUS "${n} files: no libcuda.so, no cu* driver symbol")
