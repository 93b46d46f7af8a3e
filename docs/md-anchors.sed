#!/bin/sed -f
# SPDX-License-Identifier: Apache-2.0
# Doxygen input filter for the README (docs/CMakeLists.txt): gives each
# plain "## Heading" the anchor GitHub derives from it ({#heading}, lower
# case, spaces as dashes), so the README's links to its own sections
# ([Configuration](#configuration)) also work in the API reference, where
# Doxygen 1.9 (Debian 12) makes up anchors of its own. Headings with
# punctuation get none; nothing links to them.
/^###* [A-Za-z][A-Za-z0-9 -]*$/{
h
s/^#* //
s/.*/\L&/
s/ /-/g
x
G
s/\n\(.*\)$/ {#\1}/
}
