#!/bin/sh
# Generate ./configure and the Makefile.in files from configure.ac and Makefile.am.
set -e
cd "$(dirname "$0")"
autoreconf -fi "$@"
echo "autogen: now run ./configure (or mkdir build && cd build && ../configure)"
