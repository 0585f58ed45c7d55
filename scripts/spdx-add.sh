#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Adds "SPDX-License-Identifier: Apache-2.0" to every source file that lacks it (the list of
# scripts/spdx-files.sh), in the file's own comment syntax: "// ..." for C, headers, JS, TS
# and Go (followed by a blank line in Go); "# ..." for shell and Python, after a #! line. A fuzz target's first line stays
# "// component: NAME" (the Makefile reads it), the licence line follows it. Files that
# have it are left alone, so it can be rerun after every merge.
#   scripts/spdx-add.sh [ROOT]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$(cd "$here/.." && pwd)}
tag='SPDX-License-Identifier: Apache-2.0'
added=0
while IFS= read -r f; do
  p=$root/$f
  head -n 5 "$p" | grep -Eq "^(// |# |/\* )$tag( \*/)?\$" && continue
  case "$f" in
    # Go: a blank line after, or the line would become the package's doc comment.
    *.go) line="// $tag"$'\n' ;;
    *.c|*.h|*.js|*.mjs|*.cjs|*.ts) line="// $tag" ;;
    *) line="# $tag" ;;
  esac
  first=$(head -n 1 "$p")
  tmp=$(mktemp "$p.spdx.XXXXXX")
  case "$first" in
    '#!'*|'// component:'*) { printf '%s\n%s\n' "$first" "$line"; tail -n +2 "$p"; } > "$tmp" ;;
    *) { printf '%s\n' "$line"; cat "$p"; } > "$tmp" ;;
  esac
  chmod --reference="$p" "$tmp"
  mv "$tmp" "$p"
  added=$((added + 1))
done < <("$here/spdx-files.sh" "$root")
echo "spdx-add: added the licence line to $added files"
