#!/bin/sed -f
# SPDX-License-Identifier: Apache-2.0
# Doxygen input filter for the public headers (docs/CMakeLists.txt): their
# comments are plain /* */ comments written as documentation, so make them
# Doxygen comments. The comment that opens a file documents the file; one
# that follows a declaration on its line (a struct member, an enum value)
# documents that declaration; any other documents what comes after it.
1s|^/\* SPDX-License-Identifier:.*\*/$||
0,/^\/\* /s|^/\* |/** @file\n * |
s|^\([ \t]*\)/\*\([^*]\)|\1/**\2|
s|\([;,{][ \t]*\)/\*\([^*]\)|\1/**<\2|
