# Installs an evpool build tree into a scratch prefix and builds
# examples/consumer against it through find_package(evpool), then runs it.
# Catches what only shows outside the source tree: missing installed headers,
# a Config file that forgets a dependency of the static library, an export
# that names a target the consumer cannot recreate.
#
#   cmake -DBUILD_DIR=<evpool build> -DSOURCE_DIR=<examples/consumer>
#         -DWORK_DIR=<scratch dir> -P evpoolPackageTest.cmake
#
# The consumer is built with the compiler, flags (sanitizers included),
# generator, build type and CUDA Toolkit of the evpool build, and with
# -Wall -Wextra -Werror: the installed headers must compile cleanly.
cmake_minimum_required(VERSION 3.22)

foreach(v BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "evpoolPackageTest: -D${v}=... is required")
  endif()
endforeach()

load_cache("${BUILD_DIR}" READ_WITH_PREFIX EVP_
  CMAKE_GENERATOR CMAKE_C_COMPILER CMAKE_C_FLAGS CMAKE_EXE_LINKER_FLAGS
  CMAKE_BUILD_TYPE CUDAToolkit_BIN_DIR)
cmake_path(GET EVP_CUDAToolkit_BIN_DIR PARENT_PATH cuda_root)

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

function(step what)
  message(STATUS "evpoolPackageTest: ${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "evpoolPackageTest: ${what} failed (${rc})")
  endif()
endfunction()

step("install into ${prefix}"
  "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}")
step("configure the consumer"
  "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" -G "${EVP_CMAKE_GENERATOR}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  "-DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON"
  "-DCMAKE_C_COMPILER=${EVP_CMAKE_C_COMPILER}"
  "-DCMAKE_C_FLAGS=${EVP_CMAKE_C_FLAGS} -Wall -Wextra -Werror"
  "-DCMAKE_EXE_LINKER_FLAGS=${EVP_CMAKE_EXE_LINKER_FLAGS}"
  "-DCMAKE_BUILD_TYPE=${EVP_CMAKE_BUILD_TYPE}"
  "-DCUDAToolkit_ROOT=${cuda_root}")
step("build the consumer" "${CMAKE_COMMAND}" --build "${build}")
step("run the consumer" "${build}/evpool-consumer")
