#!/bin/sh
# tests/bench/ab_test.sh SRCDIR RCGC: tools/bench/rcgc-ab.sh runs the same
# program as A and B at the quick sizes (one trial) and prints its table,
# one row per configuration with both programs' figures; bad arguments exit
# 2 naming the flag.  No timing is asserted.
set -u
src=$1
rcgc=$2
ab=$src/tools/bench/rcgc-ab.sh
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcgc-ab-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$ab" --trials 1 --quick --names one,two "$rcgc" "$rcgc" >"$tmp/out" 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; fail "rcgc-ab.sh exited $?"; }
grep -q '^| workload | mode | threads | one ops/s | two ops/s | ratio |' "$tmp/out" ||
    { cat "$tmp/out" >&2; fail "no table header"; }
rows=$(grep -c '^| [a-z-]* | [a-z-]* | [12] | [0-9]* | [0-9]* | [0-9.]* | [0-9.]* / [0-9.]* |' "$tmp/out")
[ "$rows" -eq 6 ] || { cat "$tmp/out" >&2; fail "expected 6 rows, got $rows"; }

bash "$ab" --trials 0 "$rcgc" "$rcgc" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--trials must be a whole number" "$tmp/err" || fail "--trials 0 not refused"
bash "$ab" --names solo "$rcgc" "$rcgc" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "--names must be two names" "$tmp/err" || fail "--names solo not refused"
bash "$ab" "$rcgc" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q "expected two programs" "$tmp/err" || fail "one program not refused"
bash "$ab" --bogus "$rcgc" "$rcgc" >"$tmp/out" 2>"$tmp/err"
[ $? -eq 2 ] && grep -q -- "unknown flag '--bogus'" "$tmp/err" || fail "--bogus not refused"
echo "rcgc-ab.sh: table and usage errors as expected"
