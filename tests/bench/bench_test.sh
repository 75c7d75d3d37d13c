#!/bin/sh
# tests/bench/bench_test.sh: checks of the benchmark programs (tools/bench/).
#   bench_test.sh floor RCGC-FLOOR-BIN WORKLOAD
#       the floor at its --quick sizes with 2 threads must verify (exit 0),
#       say so on stdout and write a JSON report of one verified run; bad
#       flags and values must exit 2 with one line on stderr naming the
#       flag (and the valid choices), nothing on stdout.
#   bench_test.sh driver RCGC-BENCH
#       `rcgc-bench --quick --trials 1 --only memory` must exit 0 and write
#       the memory table (machine, command, header, floor/gil/ft rows) as
#       markdown; bad flags must exit 2 naming the flag and valid values.
# No timing is asserted anywhere.
set -u
case_=$1
bin=$2
case "$bin" in /*) ;; *) bin=$(pwd)/$bin ;; esac
[ $# -ge 3 ] && workload=$3 || workload=
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcgc-bench-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_usage EXPECTED... -- ARGS...: exit 2, one line on stderr holding
# every EXPECTED string, nothing on stdout.
expect_usage() {
    n=0
    while [ "$1" != "--" ]; do
        n=$((n + 1))
        eval "exp_$n=\$1"
        shift
    done
    shift
    "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    echo "$(basename "$bin") $*: exit $st: $(cat "$tmp/err")"
    [ "$st" -eq 2 ] || fail "exit status $st, expected 2"
    [ ! -s "$tmp/out" ] || fail "unexpected output on stdout: $(cat "$tmp/out")"
    lines=$(wc -l <"$tmp/err")
    [ "$lines" -eq 1 ] || fail "expected one line on stderr, got $lines"
    i=1
    while [ "$i" -le "$n" ]; do
        eval "e=\$exp_$i"
        grep -qF -- "$e" "$tmp/err" || fail "the message does not contain '$e'"
        i=$((i + 1))
    done
}

case "$case_" in
floor)
    "$bin" --quick --threads 2 --json "$tmp/run.json" >"$tmp/out" 2>"$tmp/err"
    st=$?
    cat "$tmp/out" "$tmp/err"
    [ "$st" -eq 0 ] || fail "the floor exited with status $st"
    grep -q "^verified: " "$tmp/out" || fail "no 'verified:' line on stdout"
    grep -q "^ops [0-9]* *wall .* ops/s .* peak RSS " "$tmp/out" || fail "no ops/wall/RSS line"
    for f in '"schema": "rcgc-floor/1"' "\"workload\": \"$workload\"" '"mode": "floor"' \
             '"threads": 2' '"error": null' '"ok": true' '"leaked": 0' '"ops_per_s": ' \
             '"peak_rss_kb": ' '"p99.9": '; do
        grep -qF -- "$f" "$tmp/run.json" || fail "the JSON report lacks $f"
    done
    if [ "$workload" = latency-service ]; then
        grep -q "^op latency: count 5000 " "$tmp/out" || fail "no op latency line for 5000 requests"
    fi
    expect_usage "unknown flag '--bogus'" "--threads" "--seed" "--json" -- --bogus
    expect_usage "--threads" "1..1024" "'0'" -- --quick --threads 0
    expect_usage "--threads needs a value" -- --threads
    expect_usage "--seed" "unsigned 64-bit integer" "'12q'" -- --seed 12q
    expect_usage "unknown flag '--mode'" -- --mode ft
    expect_usage "$workload does not use --iterations" -- --iterations 5
    case "$workload" in
    binary-trees)
        expect_usage "--depth" "4..26" "'3'" -- --depth 3
        expect_usage "binary-trees does not use --live" "--depth" -- --live 10
        ;;
    *)
        # The bound of --live is the workload's (workloads/sizes.h).
        expect_usage "--live" "integer in 1..4611686018427387903" "'-1'" -- --live -1
        expect_usage "--live" "integer in 1..4611686018427387903" -- --live 4611686018427387904
        expect_usage "$workload does not use --depth" "--live" -- --depth 10
        ;;
    esac
    "$bin" --help >"$tmp/out" || fail "--help failed"
    grep -q "^usage: rcgc-floor-$workload" "$tmp/out" || fail "--help: no usage line"
    echo "floor $workload ok"
    ;;
driver)
    "$bin" --quick --trials 1 --only memory --out "$tmp/bench.md" >"$tmp/out" 2>"$tmp/err"
    st=$?
    cat "$tmp/bench.md" "$tmp/err"
    [ "$st" -eq 0 ] || fail "rcgc-bench exited with status $st"
    [ ! -s "$tmp/out" ] || fail "rcgc-bench --out wrote to stdout"
    grep -q "^### Memory: peak RSS of cycle-churn" "$tmp/bench.md" || fail "no memory table title"
    grep -q "^Machine: .*cores.*Command: \`.*rcgc-bench --quick --trials 1 --only memory" \
        "$tmp/bench.md" || fail "no machine and command line"
    grep -q "^| variant | peak RSS | vs floor | target | result |$" "$tmp/bench.md" ||
        fail "no table header"
    grep -q "^|---|" "$tmp/bench.md" || fail "no table separator"
    for v in "floor (malloc/free)" gil ft; do
        grep -q "^| $v | [0-9.]* MB | [0-9.]*x | " "$tmp/bench.md" || fail "no row for $v"
    done
    grep -q "^### Throughput" "$tmp/bench.md" && fail "--only memory printed another table"
    expect_usage "unknown table 'nope'" "--only" "throughput, scaling, shared-refs, latency, memory" -- --only memory,nope
    expect_usage "--trials" "1..99" "'0'" -- --trials 0
    expect_usage "unknown flag '--bogus'" "--quick" "--trials" "--only" "--out" -- --bogus
    "$bin" --help >"$tmp/out" || fail "--help failed"
    for t in throughput scaling shared-refs latency memory; do
        grep -q "^  $t " "$tmp/out" || fail "--help does not list the table $t"
    done
    echo "rcgc-bench ok"
    ;;
*)
    fail "unknown case '$case_'"
    ;;
esac
