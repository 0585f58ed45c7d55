#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The CLI's help, flags and man pages (no VM needed): every verb answers --help, -h and
# `boxlite help VERB` alike; every flag its help lists is accepted by its parser and every
# flag its parser accepts is in its help (one table drives both: probed with every long
# name and letter any verb knows); unknown flags and commands are named with
# the closest known one and exit 125; the man pages render and list every flag.
set -uo pipefail
cd "$(dirname "$0")/../.."
B="${BOXLITE_BUILD:-build}/bin/boxlite"
. tests/harness/lib.sh
need "$B (make)" test -x "$B"
need_cmd groff
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export BOXLITE_HOME=$work/home

# verbs, one per line ("image prune" is two words: each line is a verb)
mapfile -t verbs < <("$B" --help | awk '/^Commands:/{on=1; next} on && /^  [a-z]/{ if ($1 == "image") print $1" "$2; else print $1 } /^$/{if(on) exit}')
check "boxlite --help lists the verbs" test "${#verbs[@]}" -ge 25

# Every long flag any verb knows, to probe every verb's parser with.
# Every flag any verb knows (long names and letters), to probe every verb's parser with.
known=$(for v in "${verbs[@]}"; do "$B" $v --help | grep -oE '^  (-[A-Za-z], |    )--[a-z-]+' | grep -oE -- '-[A-Za-z]|--[a-z-]+'; done | sort -u)
bad_help=0 bad_accept=0 bad_extra=0 nflags=0
for v in "${verbs[@]}"; do
  "$B" $v --help >"$work/h1" 2>&1; r1=$?
  "$B" $v -h >"$work/h2" 2>&1
  "$B" help $v >"$work/h3" 2>&1
  if [ $r1 -ne 0 ] || ! cmp -s "$work/h1" "$work/h2" || ! cmp -s "$work/h1" "$work/h3" ||
     ! grep -q "^Usage:  boxlite $v" "$work/h1" || ! grep -q '^Example' "$work/h1"; then
    bad_help=$((bad_help + 1)); echo "# $v: --help, -h and help differ or lack usage/example"
  fi
  # Each listed flag is accepted: the parser reaches --help. (A flag that takes a value
  # takes the first --help; the second still asks for help, so nothing ever runs.)
  while read -r short long; do
    nflags=$((nflags + 1))
    for spelled in $short $long; do
      out=$("$B" $v "$spelled" --help --help 2>&1)
      if [ $? -ne 0 ] || [[ $out != Usage:* ]]; then
        bad_accept=$((bad_accept + 1)); echo "# $v $spelled: listed but refused: $out"
      fi
    done
  done < <(grep -E '^  (-[A-Za-z], |    )--[a-z]' "$work/h1" |
           sed -E 's/^  (-([A-Za-z]), |    )(--[a-z-]+).*/\2 \3/' |
           awk '{ if (NF == 2) print "-"$1, $2; else print "", $1 }')
  # Every flag the parser accepts is listed: probe every known long name and every letter.
  for f in $known; do
    out=$("$B" $v "$f" --help --help 2>&1)
    if [[ $out != *"unknown flag"* ]]; then
      if [ "${f:1:1}" = - ]; then grep -qE -- "^  (-[A-Za-z], |    )$f( |$)" "$work/h1"; else grep -qE -- "^  $f, " "$work/h1"; fi ||
        { bad_extra=$((bad_extra + 1)); echo "# $v accepts $f, which its help does not list"; }
    fi
  done
done
expect "every verb's --help, -h and 'help VERB' agree and show usage and an example" 0 $bad_help
expect "every flag a help lists is accepted ($nflags flags)" 0 $bad_accept
expect "every flag a parser accepts is in its help" 0 $bad_extra

err=$("$B" ps --formt x 2>&1); st=$?
expect "an unknown flag exits 125" 125 $st
has_near() { grep -qF -- "$1" <<<"$2"; }
check "an unknown flag is named, with the closest known one" has_near "unknown flag --formt (did you mean --format?)" "$err"
err=$("$B" ps --al 2>&1)
check "a prefix suggests the flag it begins" has_near "did you mean --all?" "$err"
err=$("$B" rum 2>&1); st=$?
expect "an unknown command exits 125" 125 $st
check "an unknown command suggests the closest" has_near 'did you mean "run"?' "$err"
check "errors are prefixed boxlite: on stderr, nothing on stdout" \
  bash -c "[ -z \"\$('$B' ps --nope 2>/dev/null)\" ] && '$B' ps --nope 2>&1 | grep -q '^boxlite: '"
"$B" stop >/dev/null 2>&1
expect "a missing operand exits 125" 125 $?
"$B" ps extra >/dev/null 2>&1
expect "an extra operand exits 125" 125 $?
"$B" run --cpus >/dev/null 2>&1
expect "a flag without its value exits 125" 125 $?
out=$("$B" run --name=a -eK=V --help 2>&1)
check "--flag=value and -eVALUE spellings parse" grep -q '^Usage:' <<<"$out"
out=$("$B" exec -it --help 2>&1)
check "bundled switches (-it) parse" grep -q '^Usage:  boxlite exec' <<<"$out"

# Man pages from the same tables.
"$B" help --man "$work/man"
# a page per verb but the alias ls, plus boxlite.1
expect "help --man writes boxlite.1 and a page per verb" "${#verbs[@]}" \
  "$(ls "$work/man" | grep -c '^boxlite.*\.1$')"
warn=$(for p in "$work"/man/*.1; do groff -man -Tutf8 -ww -z "$p" 2>&1; done)
expect "the man pages render without groff warnings" "" "$warn"
groff -man -Tutf8 "$work/man/boxlite-run.1" 2>/dev/null | col -b >"$work/run.txt"
missing=$("$B" run --help | grep -oE -- '--[a-z][a-z-]+' | sort -u | while read -r f; do grep -qF -- "$f" "$work/run.txt" || echo "$f"; done)
expect "boxlite-run(1) lists every flag of run --help" "" "$missing"
finish
