#!/bin/sh
# tests/docs/tour_test.sh TOUR README: README.md's "Object semantics" tour,
# built from the README itself (tests/CMakeLists.txt), must exit 0 and print
# exactly the ```text block the README shows after it.
set -u
tour=$1 readme=$2
here=$(dirname "$0")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcgc-tour.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
sh "$here/extract.sh" "$readme" "Object semantics" text > "$tmp/want" || exit 1
"$tour" > "$tmp/got"
st=$?
[ "$st" -eq 0 ] || { cat "$tmp/got"; echo "FAIL: the tour exited $st" >&2; exit 1; }
if ! diff -u "$tmp/want" "$tmp/got"; then
    echo "FAIL: the tour's output differs from README.md's (- README, + the program)" >&2
    exit 1
fi
echo "the tour prints what README.md says"
