#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The versioned ABI: libboxlite.so.0 (SONAME with the major) exports exactly the BOXLITE_API
# functions of include/boxlite.h, each under BOXLITE_0.1 (scripts/abi-check.sh, objdump -T),
# and the check fails on a header that declares one more, a library that exports one more,
# and a library without symbol versions.
set -uo pipefail
cd "$(dirname "$0")/../.."
build=${BOXLITE_BUILD:-build}
. tests/harness/lib.sh
need_cmd objdump binutils
need "$build/lib/libboxlite.so.0 (make)" test -e "$build/lib/libboxlite.so.0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
lib=$build/lib/libboxlite.so.0

scripts/abi-check.sh "$lib" > "$tmp/out" 2>&1
rc=$?
sed 's/^/abi-check: /' "$tmp/out"
expect "abi-check passes on the build's library" 0 "$rc"
has "abi-check counts every declared function" "exports the $(grep -c '^BOXLITE_API ' include/boxlite.h) functions" "$tmp/out"
expect "libboxlite.so links to the SONAME file" "libboxlite.so.0" "$(readlink "$build/lib/libboxlite.so")"
unversioned=$(objdump -T "$lib" | awk '$0 !~ /\*UND\*|\*ABS\*/ && ($3 == "DF" || $3 == "DO") && $(NF-1) != "BOXLITE_0.1"' | wc -l)
expect "objdump -T: no exported symbol outside BOXLITE_0.1" 0 "$unversioned"

# libcurl, libarchive, libmicrohttpd and libcrypto are loaded on first use
# (src/common/lazylib.h): none of what an exec starts may name them DT_NEEDED, or every exec
# maps them again. The names are the tables' own (src/common/lazy_*.c).
lazy=$(sed -n 's/^LAZYLIB_DEFINE(.*"\([^"]*\)")$/\1/p' src/common/lazy_*.c | sort)
expect "four libraries are loaded on first use" 4 "$(echo "$lazy" | wc -l)"
for f in "$lib" "$build/bin/boxlite" "$build/bin/boxlite-runtime"; do
  [ -e "$f" ] || continue
  needed=$(objdump -p "$f" | awk '$1 == "NEEDED" { print $2 }' | sort)
  expect "$(basename "$f") needs none of them at its start" "" "$(comm -12 <(echo "$needed") <(echo "$lazy") | paste -sd' ')"
done

# The check must fail on each kind of difference.
cp include/boxlite.h "$tmp/boxlite.h"
echo 'BOXLITE_API int boxlite_not_there(void);' >> "$tmp/boxlite.h"
scripts/abi-check.sh "$lib" "$tmp/boxlite.h" > "$tmp/o1" 2>&1
expect "a declaration the library lacks fails the check" 1 "$?"
has "... and names it" "boxlite_not_there" "$tmp/o1"

printf '%s\n' '__attribute__((visibility("default"))) int boxlite_extra(void) { return 0; }' \
  > "$tmp/extra.c"
cc -shared -fPIC -o "$tmp/extra.so" "$tmp/extra.c" -Wl,-soname,libboxlite.so.0
scripts/abi-check.sh "$tmp/extra.so" > "$tmp/o2" 2>&1
expect "an unversioned library exporting an undeclared function fails the check" 1 "$?"
has "... naming the extra function" "boxlite_extra" "$tmp/o2"
has "... and the missing version" "exported without a BOXLITE_ version" "$tmp/o2"
finish
