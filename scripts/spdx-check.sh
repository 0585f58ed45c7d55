#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Fails (exit 1) when a source file lacks the SPDX licence line (Apache-2.0) among its first
# five lines, naming each such file; scripts/spdx-add.sh adds the line.
#   scripts/spdx-check.sh [ROOT]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=${1:-$(cd "$here/.." && pwd)}
# The line itself, a comment of its own ("// ...", "# ...", "/* ... */"), not a mention.
line='^(// |# |/\* )SPDX-License-Identifier: Apache-2\.0( \*/)?$'
n=0 bad=0
while IFS= read -r f; do
  n=$((n + 1))
  if ! head -n 5 "$root/$f" | grep -Eq "$line"; then
    echo "spdx-check: $f: no 'SPDX-License-Identifier: Apache-2.0' line (scripts/spdx-add.sh adds it)"
    bad=$((bad + 1))
  fi
done < <("$here/spdx-files.sh" "$root")
[ "$n" -gt 0 ] || { echo "spdx-check: no source file found under $root" >&2; exit 2; }
if [ "$bad" -gt 0 ]; then
  echo "spdx-check: $bad of $n source files lack the licence line"
  exit 1
fi
echo "spdx-check: all $n source files carry SPDX-License-Identifier: Apache-2.0"
