#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Lists the source files that must carry an SPDX-License-Identifier line, one per line,
# relative to ROOT (default: the repository): C and headers, shell, Python, JavaScript and
# TypeScript, Go, and any other file that starts with a #! line (scripts without a suffix).
# Tracked files when ROOT is a git work tree, else every file; never symlinks, fuzz corpora,
# node_modules or build trees. Shared by spdx-check.sh and spdx-add.sh.
set -uo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root" || exit 2
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files
else
  find . -path ./build -prune -o -type f -print | sed 's,^\./,,'
fi | grep -Ev '(^|/)(node_modules|build)/|^tests/fuzz/corpus/' | sort |
while IFS= read -r f; do
  [ -f "$f" ] && [ ! -L "$f" ] || continue
  case "${f##*/}" in
    *.c|*.h|*.sh|*.py|*.js|*.mjs|*.cjs|*.ts|*.go) echo "$f" ;;
    *.*) ;;
    *) [ "$(head -c 2 "$f")" = '#!' ] && echo "$f" ;;
  esac
done
