#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Licence lines: every source file of the repository carries SPDX-License-Identifier:
# Apache-2.0 (scripts/spdx-check.sh); on a small tree the check fails naming a file without
# it, scripts/spdx-add.sh adds it in each language's syntax (after a #! line, after a fuzz
# target's "// component:" line) and is idempotent.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/harness/lib.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

scripts/spdx-check.sh > "$work/out" 2>&1
expect "every source file of the repository has the licence line" 0 "$?"
tail -3 "$work/out" | sed 's/^/spdx-check: /'
check "LICENSE is the Apache License 2.0" grep -q 'Apache License' LICENSE

t=$work/tree
mkdir -p "$t/src" "$t/tests/fuzz" "$t/tools"
printf '/* a.c */\nint a;\n' > "$t/src/a.c"
printf '// component: vmm\nint f;\n' > "$t/tests/fuzz/fuzz_x.c"
printf '#!/bin/bash\necho hi\n' > "$t/tools/run"
printf '"""doc"""\nx = 1\n' > "$t/tools/m.py"
printf 'package p\n' > "$t/src/p.go"
printf 'not a script\n' > "$t/tools/data"
printf '#!/bin/sh\n# says "SPDX-License-Identifier: Apache-2.0" in prose\n' > "$t/tools/mention.sh"
scripts/spdx-check.sh "$t" > "$work/o1" 2>&1
expect "the check fails on files without the line" 1 "$?"
has "... naming one" "src/a.c: no 'SPDX-License-Identifier" "$work/o1"
has "... and a script without a suffix" "tools/run:" "$work/o1"
check "... but not a data file" bash -c "! grep -q 'tools/data' '$work/o1'"
has "... and a mention in prose is not the line" "tools/mention.sh:" "$work/o1"
scripts/spdx-add.sh "$t" > /dev/null
scripts/spdx-check.sh "$t" > "$work/o2" 2>&1
expect "after spdx-add.sh the check passes" 0 "$?"
expect "C: a // line first" "// SPDX-License-Identifier: Apache-2.0" "$(head -1 "$t/src/a.c")"
expect "a fuzz target keeps its component line first" "// component: vmm" "$(head -1 "$t/tests/fuzz/fuzz_x.c")"
expect "a script keeps its #! line first" "#!/bin/bash|# SPDX-License-Identifier: Apache-2.0" \
  "$(head -2 "$t/tools/run" | paste -sd'|')"
expect "Go: the line, then a blank line (not the package's doc comment)" "// SPDX-License-Identifier: Apache-2.0||package p" \
  "$(head -3 "$t/src/p.go" | paste -sd'|')"
check "the script still runs" bash -c "[ \"\$('$t/tools/run' 2>/dev/null || bash '$t/tools/run')\" = hi ]"
check "the Python module still has its docstring" python3 -c "import ast,sys; assert ast.get_docstring(ast.parse(open('$t/tools/m.py').read())) == 'doc'"
sum=$(cat "$t"/src/* "$t"/tools/* | md5sum)
scripts/spdx-add.sh "$t" > "$work/o3"
expect "spdx-add.sh is idempotent" "$sum" "$(cat "$t"/src/* "$t"/tools/* | md5sum)"
finish
