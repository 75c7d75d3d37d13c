#!/bin/sh
# tests/docs/extract.sh README HEADING LANG: print the first ```LANG fenced
# block after the line "## HEADING" of README (and before the next "## ").
# Exits 1, saying so, when there is none: a README edit must not silently
# leave its program untested.
set -eu
readme=$1 heading=$2 lang=$3
out=$(awk -v h="## $heading" -v open="\`\`\`$lang" '
    $0 == h               { s = 1; next }
    s == 1 && /^## /      { exit }
    s == 1 && $0 == open  { s = 2; next }
    s == 2 && /^```/      { exit }
    s == 2                { print }' "$readme")
if [ -z "$out" ]; then
    echo "extract.sh: no \`\`\`$lang block after '## $heading' in $readme" >&2
    exit 1
fi
printf '%s\n' "$out"
