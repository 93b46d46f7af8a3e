# SPDX-License-Identifier: Apache-2.0
# Installs an evpool build tree into a scratch prefix and builds the consumer
# program (examples/consumer) three ways, running each:
#   1. CMake find_package(evpool) against the install;
#   2. pkg-config (evpool.pc of the install) and a plain Makefile;
#   3. add_subdirectory() of the evpool source tree, which must leave the
#      parent's (empty) build type alone and build no tests, tools, examples
#      or benchmarks.
# Catches what only shows outside the source tree: missing installed headers,
# a Config file or .pc that forgets (or invents) a dependency of the static
# library, an export that names a target the consumer cannot recreate, CUDA
# leaking onto a consumer's compile line. Also runs the installed
# evpool-config --version.
#
#   cmake -DBUILD_DIR=<evpool build> -DSOURCE_DIR=<evpool source>
#         -DWORK_DIR=<scratch dir> -DVERSION=<x.y.z> -P evpoolPackageTest.cmake
#
# The consumers are built with the compiler, flags (sanitizers included),
# generator and CUDA Toolkit of the evpool build, and with -Wall -Wextra
# -Werror: the installed headers must compile cleanly.
cmake_minimum_required(VERSION 3.22)

foreach(v BUILD_DIR SOURCE_DIR WORK_DIR VERSION)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "evpoolPackageTest: -D${v}=... is required")
  endif()
endforeach()

load_cache("${BUILD_DIR}" READ_WITH_PREFIX EVP_
  CMAKE_GENERATOR CMAKE_C_COMPILER CMAKE_C_FLAGS CMAKE_EXE_LINKER_FLAGS
  CMAKE_BUILD_TYPE CUDAToolkit_BIN_DIR PKG_CONFIG_EXECUTABLE
  CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR CMAKE_INSTALL_DATAROOTDIR
  EVPOOL_INSTALL_CMAKEDIR EVPOOL_INSTALL_PKGCONFIGDIR)
cmake_path(GET EVP_CUDAToolkit_BIN_DIR PARENT_PATH cuda_root)
set(consumer_src "${SOURCE_DIR}/examples/consumer")
set(prefix "${WORK_DIR}/prefix")
set(warn_flags "-Wall -Wextra -Werror")
file(REMOVE_RECURSE "${WORK_DIR}")

function(step what)
  message(STATUS "evpoolPackageTest: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "evpoolPackageTest: ${what} failed (${rc})")
  endif()
endfunction()

# A CMake consumer: configure, build, run. ARGN: extra configure arguments.
function(cmake_consumer name)
  set(build "${WORK_DIR}/${name}")
  step("${name}: configure"
    "${CMAKE_COMMAND}" -S "${consumer_src}" -B "${build}" -G "${EVP_CMAKE_GENERATOR}"
    "-DCMAKE_C_COMPILER=${EVP_CMAKE_C_COMPILER}"
    "-DCMAKE_C_FLAGS=${EVP_CMAKE_C_FLAGS} ${warn_flags}"
    "-DCMAKE_EXE_LINKER_FLAGS=${EVP_CMAKE_EXE_LINKER_FLAGS}"
    "-DCUDAToolkit_ROOT=${cuda_root}" ${ARGN})
  step("${name}: build" "${CMAKE_COMMAND}" --build "${build}" --parallel 2)
  step("${name}: run" "${build}/evpool-consumer")
endfunction()

step("install into ${prefix}" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
foreach(f IN ITEMS
    "${EVP_CMAKE_INSTALL_LIBDIR}/libevpool.a"
    "${EVP_CMAKE_INSTALL_INCLUDEDIR}/evpool/evpool.h"
    "${EVP_CMAKE_INSTALL_INCLUDEDIR}/evpool/version.h"
    "${EVP_EVPOOL_INSTALL_CMAKEDIR}/evpoolConfig.cmake"
    "${EVP_EVPOOL_INSTALL_CMAKEDIR}/evpoolConfigVersion.cmake"
    "${EVP_EVPOOL_INSTALL_PKGCONFIGDIR}/evpool.pc"
    "${EVP_CMAKE_INSTALL_BINDIR}/evpool-config"
    "${EVP_CMAKE_INSTALL_DATAROOTDIR}/doc/evpool/LICENSE")
  if(NOT EXISTS "${prefix}/${f}")
    message(FATAL_ERROR "evpoolPackageTest: not installed: ${f}")
  endif()
endforeach()
# The benchmark runners, where this build has them (EVPOOL_BUILD_BENCH).
foreach(runner IN ITEMS evpool-bench evpool-e2e)
  if(BENCH_INSTALLED AND NOT EXISTS "${prefix}/${EVP_CMAKE_INSTALL_BINDIR}/${runner}")
    message(FATAL_ERROR "evpoolPackageTest: not installed: ${EVP_CMAKE_INSTALL_BINDIR}/${runner}")
  endif()
endforeach()
execute_process(COMMAND "${prefix}/${EVP_CMAKE_INSTALL_BINDIR}/evpool-config" --version
  OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR NOT out STREQUAL "evpool-config ${VERSION}\n")
  message(FATAL_ERROR "evpoolPackageTest: evpool-config --version: exit ${rc}, '${out}'")
endif()

# 1. find_package against the install.
cmake_consumer(find_package
  "-DCMAKE_PREFIX_PATH=${prefix}" "-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON"
  "-DCMAKE_BUILD_TYPE=${EVP_CMAKE_BUILD_TYPE}")

# 2. pkg-config and make against the install. The link line is evpool.pc's
# alone: nothing of CUDA is added here.
set(pc_env "PKG_CONFIG_PATH=${prefix}/${EVP_EVPOOL_INSTALL_PKGCONFIGDIR}")
foreach(q IN ITEMS --cflags --libs)
  execute_process(COMMAND "${CMAKE_COMMAND}" -E env "${pc_env}"
    "${EVP_PKG_CONFIG_EXECUTABLE}" --static ${q} evpool
    OUTPUT_VARIABLE out OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  message(STATUS "evpoolPackageTest: pkg-config --static ${q} evpool: ${out}")
  if(NOT rc EQUAL 0 OR (q STREQUAL "--cflags" AND out MATCHES "cuda"))
    message(FATAL_ERROR "evpoolPackageTest: pkg-config ${q}: exit ${rc}, '${out}'")
  endif()
endforeach()
find_program(MAKE_PROGRAM NAMES make gmake REQUIRED)
file(MAKE_DIRECTORY "${WORK_DIR}/pkg-config")
step("pkg-config: build with make"
  "${CMAKE_COMMAND}" -E env "${pc_env}" "${MAKE_PROGRAM}" -C "${WORK_DIR}/pkg-config"
  -f "${consumer_src}/Makefile" "PKG_CONFIG=${EVP_PKG_CONFIG_EXECUTABLE}"
  "CC=${EVP_CMAKE_C_COMPILER}" "CFLAGS=${EVP_CMAKE_C_FLAGS} ${warn_flags}"
  "LDFLAGS=${EVP_CMAKE_EXE_LINKER_FLAGS}")
step("pkg-config: run" "${WORK_DIR}/pkg-config/evpool-consumer")

# 3. add_subdirectory of the source tree, with no build type: it must stay
# empty (examples/consumer/CMakeLists.txt checks that and the targets).
cmake_consumer(add_subdirectory "-DEVPOOL_SOURCE_DIR=${SOURCE_DIR}")
