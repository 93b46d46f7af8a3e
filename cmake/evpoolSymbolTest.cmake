# SPDX-License-Identifier: Apache-2.0
# Checks the symbols of libevpool.a against the public headers:
#   - every global symbol the archive defines starts with evp_ and is a
#     function declared in include/evpool/*.h (internal ones are local:
#     hidden visibility, then objcopy --localize-hidden);
#   - every function those headers declare (static inline ones aside) is
#     defined and global (a declaration without EVP_API is hidden);
#   - the archive calls liburcu if and only if NEEDS_URCU (EVPOOL_NEEDS_URCU)
#     is on, since that decides whether evpoolConfig.cmake and evpool.pc
#     bring it; and it calls nothing of Concurrency Kit, which neither brings.
# Fails listing the offenders.
#
#   cmake -DNM=nm -DARCHIVE=libevpool.a -DINCLUDE_DIR=include
#         -DGENERATED_INCLUDE_DIR=build/include -DNEEDS_URCU=OFF
#         -P evpoolSymbolTest.cmake
cmake_minimum_required(VERSION 3.22)

foreach(v NM ARCHIVE INCLUDE_DIR GENERATED_INCLUDE_DIR NEEDS_URCU)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "evpoolSymbolTest: -D${v}=... is required")
  endif()
endforeach()

# nm output lines: "<address> <type> <name>" (defined), "<spaces> U <name>".
function(archive_symbols out)
  execute_process(COMMAND "${NM}" ${ARGN} "${ARCHIVE}"
    OUTPUT_VARIABLE text RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "evpoolSymbolTest: ${NM} ${ARGN} ${ARCHIVE} failed (${rc})")
  endif()
  string(REGEX MATCHALL "[^\n]+ [A-Za-z] [^\n]+" lines "${text}")
  set(names "")
  foreach(line IN LISTS lines)
    string(REGEX REPLACE "^.* [A-Za-z] " "" name "${line}")
    list(APPEND names "${name}")
  endforeach()
  list(REMOVE_DUPLICATES names)
  set(${out} "${names}" PARENT_SCOPE)
endfunction()

archive_symbols(globals -g --defined-only)
archive_symbols(undefined -u)

# Functions the public headers declare, comments stripped.
file(GLOB headers "${INCLUDE_DIR}/evpool/*.h" "${GENERATED_INCLUDE_DIR}/evpool/*.h")
set(declared "")
set(inline "")
foreach(h IN LISTS headers)
  file(READ "${h}" text)
  string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" " " text "${text}")
  string(REGEX REPLACE "//[^\n]*" "" text "${text}")
  string(REGEX MATCHALL "evp_[a-z0-9_]+[ \t\r\n]*\\(" found "${text}")
  string(REGEX MATCHALL "static[ \t]+inline[^;{}()]*[ \t*]evp_[a-z0-9_]+[ \t]*\\(" found_inline "${text}")
  foreach(what IN ITEMS found found_inline)
    list(TRANSFORM ${what} REPLACE ".*(evp_[a-z0-9_]+).*" "\\1")
  endforeach()
  list(APPEND declared ${found})
  list(APPEND inline ${found_inline})
endforeach()
list(REMOVE_DUPLICATES declared)
if(inline)
  list(REMOVE_ITEM declared ${inline})
endif()

set(failures "")
set(not_public "")
foreach(s IN LISTS globals)
  if(NOT s MATCHES "^evp_" OR NOT s IN_LIST declared)
    list(APPEND not_public "${s}")
  endif()
endforeach()
if(not_public)
  list(JOIN not_public "\n    " l)
  string(APPEND failures "global in the archive but not a function of include/evpool/*.h "
    "(internal functions need no mark; a public one is declared EVP_API in a public header):\n    ${l}\n")
endif()
set(missing "")
foreach(s IN LISTS declared)
  if(NOT s IN_LIST globals)
    list(APPEND missing "${s}")
  endif()
endforeach()
if(missing)
  list(JOIN missing "\n    " l)
  string(APPEND failures "declared in include/evpool/*.h but not a global symbol of the "
    "archive (no EVP_API on the declaration, or not implemented):\n    ${l}\n")
endif()

set(urcu_calls "")
set(ck_calls "")
foreach(s IN LISTS undefined)
  if(s MATCHES "^(urcu_|rcu_|cds_|call_rcu|synchronize_rcu|defer_rcu)")
    list(APPEND urcu_calls "${s}")
  elseif(s MATCHES "^ck_")
    list(APPEND ck_calls "${s}")
  endif()
endforeach()
if(urcu_calls AND NOT NEEDS_URCU)
  list(JOIN urcu_calls " " l)
  string(APPEND failures "the archive calls liburcu (${l}) but EVPOOL_NEEDS_URCU is off, "
    "so evpoolConfig.cmake and evpool.pc would not bring it: the layer that calls it "
    "should link PkgConfig::EVPOOL_URCU (CMakeLists.txt)\n")
elseif(NOT urcu_calls AND NEEDS_URCU)
  string(APPEND failures "EVPOOL_NEEDS_URCU is on but the archive calls nothing of "
    "liburcu: consumers would be made to find and link it for nothing\n")
endif()
if(ck_calls)
  list(JOIN ck_calls " " l)
  string(APPEND failures "the archive calls Concurrency Kit functions (${l}); neither "
    "evpoolConfig.cmake nor evpool.pc brings libck\n")
endif()

list(LENGTH globals n)
if(failures)
  message(FATAL_ERROR "evpoolSymbolTest: ${ARCHIVE}:\n${failures}")
endif()
message(STATUS "evpoolSymbolTest: ${n} global symbols, all public API; liburcu "
  "calls: ${NEEDS_URCU}; no Concurrency Kit calls")
