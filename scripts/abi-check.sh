#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# ABI check: the symbols libboxlite exports must be exactly the functions include/boxlite.h
# declares BOXLITE_API, each under a BOXLITE_ version node, the linker version script must
# list the same names, and the SONAME must carry the header's major version.
#   scripts/abi-check.sh [LIBRARY] [HEADER] [MAPFILE]
# (defaults: build/lib/libboxlite.so.0, include/boxlite.h, src/runtime/libboxlite.map).
# Prints every difference and exits 1 when there is one; 2 when it cannot check.
set -uo pipefail
cd "$(dirname "$0")/.."
lib=${1:-build/lib/libboxlite.so.0}
hdr=${2:-include/boxlite.h}
map=${3:-src/runtime/libboxlite.map}
for f in "$lib" "$hdr" "$map"; do
  [ -e "$f" ] || { echo "abi-check: $f: no such file" >&2; exit 2; }
done
command -v objdump >/dev/null || { echo "abi-check: objdump missing (binutils)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Declarations: a line starting "BOXLITE_API", the name is what stands before the first '('.
grep -E '^BOXLITE_API ' "$hdr" | sed -E 's/^BOXLITE_API[^(]*[ *]([A-Za-z_0-9]+)\(.*/\1/' |
  sort > "$tmp/header"
# The version script's names: "name;" lines between "global:" and "local:".
awk '/\/\*/{c=1} !c && /global:/{g=1; next} !c && /local:/{g=0} !c && g; /\*\//{c=0}' "$map" |
  tr -d ' \t;' | grep -v '^$' | sort > "$tmp/map"
# objdump -T: defined dynamic symbols (not *UND*) of type function or object, with version.
objdump -T "$lib" | awk '$0 ~ /^[0-9a-f]+ / && $0 !~ /\*UND\*|\*ABS\*/ && ($3 == "DF" || $3 == "DO") {
    print $NF, $(NF-1) }' | sort > "$tmp/exported"
cut -d' ' -f1 "$tmp/exported" > "$tmp/names"

bad=0
report() { # TITLE FILE
  if [ -s "$2" ]; then
    echo "abi-check: $1:"; sed 's/^/  /' "$2"; bad=1
  fi
}
comm -23 "$tmp/header" "$tmp/names" > "$tmp/d1"
report "declared BOXLITE_API in $hdr but not exported by $lib" "$tmp/d1"
comm -13 "$tmp/header" "$tmp/names" > "$tmp/d2"
report "exported by $lib but not declared BOXLITE_API in $hdr" "$tmp/d2"
comm -3 "$tmp/header" "$tmp/map" > "$tmp/d3"
report "names that differ between $hdr (left) and $map (right)" "$tmp/d3"
awk '$2 !~ /^\(?BOXLITE_[0-9]+\.[0-9]+\)?$/' "$tmp/exported" > "$tmp/d4"
report "exported without a BOXLITE_ version" "$tmp/d4"

major=$(sed -n 's/^#define BOXLITE_VERSION_MAJOR \([0-9]*\).*/\1/p' "$hdr")
soname=$(objdump -p "$lib" | awk '$1 == "SONAME" { print $2 }')
if [ "$soname" != "libboxlite.so.$major" ]; then
  echo "abi-check: SONAME is '$soname', expected libboxlite.so.$major"; bad=1
fi
n=$(wc -l < "$tmp/header")
if [ "$bad" = 0 ]; then
  echo "abi-check: $lib exports the $n functions of $hdr, each under $(cut -d' ' -f2 "$tmp/exported" | sort -u | tr -d '()' | paste -sd,); SONAME $soname"
fi
exit "$bad"
