#!/bin/sh
# tests/cli/cli_test.sh: checks of the `rcgc` command, one case per CTest test.
#   cli_test.sh RCGC usage EXPECTED... -- ARGS...
#       `rcgc ARGS` must exit 2 with exactly one line on stderr, nothing on
#       stdout, and that line must contain every EXPECTED string.
#   cli_test.sh RCGC exit1 EXPECTED -- ARGS...
#       `rcgc ARGS` must exit 1 with EXPECTED on stderr (a file error).
#   cli_test.sh RCGC help | list | roundtrip | compare | report-bad | read
#               | collector | gc-threshold | gc-stress | old-report | sizes
#   cli_test.sh RCGC load LRU.so TW.so
#       workloads loaded from libraries (--load)
#   cli_test.sh RCGC html run | compare | report
#       `rcgc run/compare/report ... --html out.html` must succeed and write
#       the page (tests/cli/html_test.sh renders it in Chromium).
# No timing is asserted anywhere.
set -u
rcgc=$1
case "$rcgc" in /*) ;; *) rcgc=$(pwd)/$rcgc ;; esac
case_=$2
shift 2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcgc-cli-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# expect_error STATUS EXPECTED... -- ARGS...
expect_error() {
    want=$1
    shift
    n=0
    while [ "$1" != "--" ]; do
        n=$((n + 1))
        eval "exp_$n=\$1"
        shift
    done
    shift
    "$rcgc" "$@" >"$tmp/out" 2>"$tmp/err"
    st=$?
    echo "rcgc $*: exit $st: $(cat "$tmp/err")"
    [ "$st" -eq "$want" ] || fail "exit status $st, expected $want"
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
usage)
    expect_error 2 "$@"
    ;;
exit1)
    expect_error 1 "$@"
    ;;
help)
    for c in list run compare report; do
        "$rcgc" "$c" --help >"$tmp/out" 2>"$tmp/err" || fail "rcgc $c --help failed"
        grep -q "^usage: rcgc $c" "$tmp/out" || fail "rcgc $c --help: no usage line"
        [ ! -s "$tmp/err" ] || fail "rcgc $c --help wrote to stderr"
        "$rcgc" help "$c" | cmp -s - "$tmp/out" || fail "rcgc help $c differs from $c --help"
    done
    for c in run compare; do
        "$rcgc" "$c" --help >"$tmp/out"
        for f in --threads --collector --gc-threshold --gc-stress --gc-verify --quick --seed --json --trace --depth --items --read; do
            grep -qF -- "$f" "$tmp/out" || fail "rcgc $c --help does not mention $f"
        done
    done
    "$rcgc" --help >"$tmp/out" || fail "rcgc --help failed"
    for c in list run compare report; do
        grep -q "rcgc $c" "$tmp/out" || fail "rcgc --help does not list $c"
    done
    "$rcgc" >"$tmp/out" 2>"$tmp/err" && fail "rcgc without a command succeeded"
    [ $? -eq 2 ] || fail "rcgc without a command: exit status not 2"
    grep -q "^usage: rcgc" "$tmp/err" || fail "rcgc without a command: no usage on stderr"
    echo "help texts ok"
    ;;
list)
    "$rcgc" list >"$tmp/out" || fail "rcgc list failed"
    cat "$tmp/out"
    for w in binary-trees cycle-churn latency-service shared-refs shared-objects handoff finalizer-storm deepcopy-storm; do
        grep -q "^$w " "$tmp/out" || fail "rcgc list does not list $w"
    done
    rows=$(grep -c -v '^workload ' "$tmp/out")
    [ "$rows" -eq 8 ] || fail "rcgc list: $rows workloads, expected 8"
    ;;
roundtrip)
    cd "$tmp" || exit 1
    "$rcgc" run cycle-churn --quick --mode ft --threads 2 --json out.json --hgrm out.hgrm \
        >run.txt || fail "rcgc run failed"
    cat run.txt
    [ -s out.json ] || fail "no out.json"
    grep -q '"schema": "rcgc-run/1"' out.json || fail "out.json: no schema rcgc-run/1"
    [ -s out.hgrm ] || fail "no out.hgrm"
    grep -q 'Value *Percentile *TotalCount' out.hgrm || fail "out.hgrm: no .hgrm header"
    grep -q '^#\[Max' out.hgrm || fail "out.hgrm: no summary"
    grep -q '^ft  *stw  *2 ' run.txt || fail "no ft stw 2 row in the table"
    "$rcgc" report out.json >report.txt || fail "rcgc report failed"
    diff run.txt report.txt || fail "rcgc report out.json differs from the run's table"
    "$rcgc" report out.json --hgrm again.hgrm >/dev/null || fail "rcgc report --hgrm failed"
    [ -s again.hgrm ] || fail "report --hgrm wrote nothing"
    echo "round trip ok"
    ;;
compare)
    "$rcgc" compare binary-trees --quick --modes gil,ft,ft-atomic --threads 1,2 >"$tmp/out" \
        || fail "rcgc compare failed"
    cat "$tmp/out"
    # Throughput rows: mode, collector, threads, then the wall time.
    rows=$(grep -cE '^(gil|ft|ft-atomic) +stw +[12] +[0-9]+\.[0-9]+ ' "$tmp/out")
    [ "$rows" -eq 6 ] || fail "$rows rows in the table, expected 6"
    for m in gil ft ft-atomic; do
        for t in 1 2; do
            grep -qE "^$m +stw +$t +[0-9]+\.[0-9]+ " "$tmp/out" || fail "no row for $m x$t"
        done
    done
    ;;
collector)
    # --collector / --collectors: the run's runtime uses it, the table, the
    # JSON, the HTML page and compare's children carry it.
    cd "$tmp" || exit 1
    "$rcgc" run cycle-churn --quick --mode ft --collector stw --json r.json --html r.html >r.txt \
        || fail "rcgc run --collector stw failed"
    cat r.txt
    grep -qE '^mode +collector +threads ' r.txt || fail "no collector column in the table"
    grep -qE '^ft +stw +1 +[0-9]+\.[0-9]+ ' r.txt || fail "no row 'ft stw 1' in the table"
    grep -q '^ft stw x1: verified' r.txt || fail "the verification line does not name the collector"
    grep -q '"collector": "stw"' r.json || fail "r.json: no \"collector\": \"stw\""
    grep -q '<th>collector</th>' r.html || fail "r.html: no collector column"
    grep -q '<tr class="run" data-run="ft stw x1"><td>ft</td><td>stw</td><td>1</td>' r.html \
        || fail "r.html: the run's row does not show its collector"
    "$rcgc" run cycle-churn --quick --mode ft --json d.json >/dev/null || fail "rcgc run failed"
    grep -q '"collector": "stw"' d.json || fail "the default collector is not stw"
    "$rcgc" compare binary-trees --quick --modes gil,ft --collectors stw --threads 1 --json c.json \
        >c.txt || fail "rcgc compare --collectors stw failed"
    cat c.txt
    [ "$(grep -cE '^(gil|ft) +stw +1 +[0-9]+\.[0-9]+ ' c.txt)" -eq 2 ] \
        || fail "compare --collectors stw: not 2 rows with the collector"
    [ "$(grep -c '"collector": "stw"' c.json)" -eq 2 ] || fail "c.json: not 2 runs with collector stw"
    "$rcgc" report c.json >report.txt || fail "rcgc report c.json failed"
    diff c.txt report.txt || fail "rcgc report c.json differs from compare's table"
    # Both collectors side by side: a row each, each run's JSON naming its
    # own, and the concurrent one's run verified like the other.
    "$rcgc" compare cycle-churn --quick --modes ft --collectors stw,concurrent --threads 1 \
        --json cc.json >cc.txt || fail "rcgc compare --collectors stw,concurrent failed"
    cat cc.txt
    grep -qE '^ft +stw +1 +[0-9]+\.[0-9]+ ' cc.txt || fail "compare: no row 'ft stw 1'"
    grep -qE '^ft +concurrent +1 +[0-9]+\.[0-9]+ ' cc.txt || fail "compare: no row 'ft concurrent 1'"
    grep -q '"collector": "concurrent"' cc.json || fail "cc.json: no run with collector concurrent"
    # A collection that ended a concurrent cycle (at least the final full
    # one) records the cycle's start and its concurrent work; the stw run's
    # records have neither.
    grep -q '"concurrent_ns": [1-9]' cc.json || fail "cc.json: no collection with concurrent_ns"
    "$rcgc" report cc.json >ccr.txt || fail "rcgc report cc.json failed"
    "$rcgc" run cycle-churn --quick --mode gil --collector concurrent >g.txt \
        || fail "rcgc run --collector concurrent failed"
    grep -q '^gil concurrent x1: verified' g.txt || fail "the concurrent run was not verified"
    echo "collector ok"
    ;;
gc-threshold)
    # --gc-threshold N0[,N1[,N2]] is applied in the run's runtime: the JSON
    # records the thresholds in force (those not given keep the defaults,
    # which a run without the flag records), and the number of collections
    # moves the way N0 says: far fewer with a much larger N0, more with a
    # smaller one.
    cd "$tmp" || exit 1
    thresholds() { tr -d ' \n' <"$1" | grep -o '"gc_threshold":\[[0-9,]*\]' | head -n 1 \
        | sed 's/.*\[//; s/\]//'; }
    collections() { grep -c '"generation"' "$1"; }
    "$rcgc" run cycle-churn --quick --json d.json >d.txt || fail "rcgc run failed"
    def=$(thresholds d.json)
    echo "default thresholds: $def; $(collections d.json) collections"
    case "$def" in [0-9]*,[0-9]*,[0-9]*) ;; *) fail "d.json: gc_threshold is '$def'" ;; esac
    d1=$(echo "$def" | cut -d, -f2)
    d2=$(echo "$def" | cut -d, -f3)
    grep -q "gc thresholds $(echo "$def" | tr , /), seed" d.txt \
        || fail "the header does not show the thresholds in force"
    "$rcgc" run cycle-churn --quick --gc-threshold 1000000 --json big.json >big.txt \
        || fail "rcgc run --gc-threshold 1000000 failed"
    cat big.txt
    [ "$(thresholds big.json)" = "1000000,$d1,$d2" ] \
        || fail "big.json: gc_threshold is $(thresholds big.json), not 1000000,$d1,$d2"
    grep -q "gc thresholds 1000000/$d1/$d2, seed" big.txt || fail "the header does not show N0"
    [ "$(collections big.json)" -lt "$(collections d.json)" ] \
        || fail "N0 1000000: $(collections big.json) collections, not fewer than the default's"
    "$rcgc" run cycle-churn --quick --gc-threshold 200,3 --json small.json >/dev/null \
        || fail "rcgc run --gc-threshold 200,3 failed"
    [ "$(thresholds small.json)" = "200,3,$d2" ] \
        || fail "small.json: gc_threshold is $(thresholds small.json), not 200,3,$d2"
    [ "$(collections small.json)" -gt "$(collections d.json)" ] \
        || fail "N0 200: $(collections small.json) collections, not more than the default's"
    "$rcgc" report big.json >report.txt || fail "rcgc report big.json failed"
    diff big.txt report.txt || fail "rcgc report big.json differs from the run's table"
    "$rcgc" compare cycle-churn --quick --modes gil,ft --threads 1 --gc-threshold 1000000 \
        --json c.json >/dev/null || fail "rcgc compare --gc-threshold failed"
    [ "$(tr -d ' \n' <c.json | grep -o "\"gc_threshold\":\[1000000,$d1,$d2\]" | wc -l)" -eq 2 ] \
        || fail "compare's children did not both run with N0 1000000"
    echo "gc-threshold ok"
    ;;
gc-stress)
    # --gc-stress N --gc-verify are applied in the run's runtime: the JSON
    # records them, the header shows them, and a young collection every
    # allocation makes many more collections than the same run without
    # (small sizes: the verifier walks the heap at every collection).  The
    # runtime's RCGC_GC_STRESS / RCGC_GC_VERIFY are kept out of it.
    cd "$tmp" || exit 1
    unset RCGC_GC_STRESS RCGC_GC_VERIFY
    collections() { grep -c '"generation"' "$1"; }
    sizes="--quick --live 100 --cycles 300"
    "$rcgc" run cycle-churn $sizes --json d.json >d.txt || fail "rcgc run failed"
    grep -q '"gc_stress": 0,' d.json || fail "d.json: gc_stress is not 0"
    grep -q '"gc_verify": false,' d.json || fail "d.json: gc_verify is not false"
    grep -q '"gc_verify_amortized": false,' d.json || fail "d.json: gc_verify_amortized is not false"
    grep -qE '"sensor_slice_ns": [0-9]+,' d.json || fail "d.json: no sensor_slice_ns"
    grep -qE '"sensor_max_at_ns": [0-9]+,' d.json || fail "d.json: no sensor_max_at_ns"
    grep -q 'gc stress\|verify,' d.txt && fail "the header shows stress or verify that are off"
    "$rcgc" run cycle-churn $sizes --gc-stress 1 --gc-verify --json s.json >s.txt \
        || fail "rcgc run --gc-stress 1 --gc-verify failed"
    cat s.txt
    grep -q '"gc_stress": 1,' s.json || fail "s.json: gc_stress is not 1"
    grep -q '"gc_verify": true,' s.json || fail "s.json: gc_verify is not true"
    grep -q ', gc stress 1, verify, seed' s.txt || fail "the header does not show 'gc stress 1, verify'"
    grep -q ': verified: ' s.txt || fail "the stressed run did not verify"
    echo "collections: $(collections d.json) without, $(collections s.json) with --gc-stress 1"
    [ "$(collections s.json)" -ge 100 ] && \
        [ "$(collections s.json)" -gt $(($(collections d.json) * 10)) ] \
        || fail "--gc-stress 1: $(collections s.json) collections, not many more than $(collections d.json)"
    "$rcgc" report s.json >report.txt || fail "rcgc report s.json failed"
    diff s.txt report.txt || fail "rcgc report s.json differs from the run's table"
    "$rcgc" compare cycle-churn $sizes --modes gil,ft --threads 1 --gc-stress 2 --gc-verify \
        --json c.json >c.txt || fail "rcgc compare --gc-stress 2 --gc-verify failed"
    cat c.txt
    [ "$(grep -c '"gc_stress": 2,' c.json)" -eq 2 ] || fail "compare's children did not both run with --gc-stress 2"
    [ "$(grep -c '"gc_verify": true,' c.json)" -eq 2 ] || fail "compare's children did not both run with --gc-verify"
    grep -q ', gc stress 2, verify, seed' c.txt || fail "compare's header does not show 'gc stress 2, verify'"
    # The environment's settings are in force without the flags, recorded
    # as read back from the runtime; the flags win over them.
    RCGC_GC_STRESS=3 RCGC_GC_VERIFY=1 "$rcgc" run cycle-churn $sizes --json e.json >e.txt \
        || fail "rcgc run with RCGC_GC_STRESS=3 RCGC_GC_VERIFY=1 failed"
    grep -q '"gc_stress": 3,' e.json || fail "e.json: gc_stress is not the environment's 3"
    grep -q '"gc_verify": true,' e.json || fail "e.json: gc_verify is not the environment's"
    grep -q '"gc_verify_amortized": false,' e.json || fail "e.json: RCGC_GC_VERIFY=1 recorded as amortized"
    RCGC_GC_STRESS=3 RCGC_GC_VERIFY=amortized "$rcgc" run cycle-churn $sizes --json a.json >a.txt \
        || fail "rcgc run with RCGC_GC_VERIFY=amortized failed"
    grep -q '"gc_verify": true,' a.json || fail "a.json: gc_verify is not true"
    grep -q '"gc_verify_amortized": true,' a.json || fail "a.json: gc_verify_amortized is not true"
    grep -q ', gc stress 3, verify amortized, seed' a.txt || fail "the header does not show 'verify amortized'"
    "$rcgc" report a.json >a-report.txt || fail "rcgc report a.json failed"
    diff a.txt a-report.txt || fail "rcgc report a.json differs from the run's table"
    RCGC_GC_STRESS=3 "$rcgc" run cycle-churn $sizes --gc-stress 7 --json f.json >f.txt \
        || fail "rcgc run --gc-stress 7 with RCGC_GC_STRESS=3 failed"
    grep -q '"gc_stress": 7,' f.json || fail "f.json: --gc-stress 7 did not win over RCGC_GC_STRESS=3"
    # A bad value is a usage error naming the variable (exit 2, one line,
    # before anything runs), not a silent default.
    for cmd in run compare; do
        st=0
        RCGC_GC_STRESS=often "$rcgc" $cmd cycle-churn $sizes >g.txt 2>g.err || st=$?
        [ "$st" -eq 2 ] || { cat g.txt g.err; fail "rcgc $cmd with RCGC_GC_STRESS=often: exit $st, not 2"; }
        grep -q "^rcgc $cmd: RCGC_GC_STRESS must be a whole number >= 0 .*not 'often'" g.err \
            || { cat g.err; fail "rcgc $cmd with RCGC_GC_STRESS=often: no message naming it"; }
        [ ! -s g.txt ] || { cat g.txt; fail "rcgc $cmd with RCGC_GC_STRESS=often ran something"; }
        st=0
        RCGC_GC_VERIFY=yes "$rcgc" $cmd cycle-churn $sizes >g.txt 2>g.err || st=$?
        [ "$st" -eq 2 ] || { cat g.txt g.err; fail "rcgc $cmd with RCGC_GC_VERIFY=yes: exit $st, not 2"; }
        grep -q "^rcgc $cmd: RCGC_GC_VERIFY must be 0, 1 or amortized .*not 'yes'" g.err \
            || { cat g.err; fail "rcgc $cmd with RCGC_GC_VERIFY=yes: no message naming it"; }
        st=0
        RCGC_SAFEPOINT_TIMEOUT_MS=soon "$rcgc" $cmd cycle-churn $sizes >g.txt 2>g.err || st=$?
        [ "$st" -eq 2 ] || { cat g.txt g.err; fail "rcgc $cmd with RCGC_SAFEPOINT_TIMEOUT_MS=soon: exit $st, not 2"; }
        grep -q "^rcgc $cmd: RCGC_SAFEPOINT_TIMEOUT_MS must be a whole number .*not 'soon'" g.err \
            || { cat g.err; fail "rcgc $cmd with RCGC_SAFEPOINT_TIMEOUT_MS=soon: no message naming it"; }
    done
    echo "gc-stress ok"
    ;;
load)
    # Workloads loaded from libraries: cli_test.sh RCGC load LRU.so TW.so
    # (the example lru-cache, and tests/cli/test_workloads.c's "good").
    lru=$1
    tw=$2
    cd "$tmp" || exit 1
    "$rcgc" list --load "$lru" --load="$tw" >list.txt || fail "rcgc list --load failed"
    cat list.txt
    grep -qE "^lru-cache +--capacity --keys --gets .*\(--load $lru\)$" list.txt \
        || fail "rcgc list: no lru-cache line with its size flags and library"
    for w in binary-trees finalizer-storm wl-setup-fail wl-thread-fail wl-verify-fail wl-leak wl-sizes; do
        grep -q "^$w " list.txt || fail "rcgc list --load: no $w"
    done
    # One library loaded twice registers its workloads once.
    n=$("$rcgc" list --load "$lru" --load "$lru" | grep -c '^lru-cache ') || true
    [ "$n" -eq 1 ] || fail "lru-cache listed $n times when its library is loaded twice"
    "$rcgc" run --help --load "$lru" >help.txt || fail "rcgc run --help --load failed"
    grep -qE -- "--capacity N +nodes the cache holds" help.txt || fail "run --help: no --capacity"
    grep -q "lru-cache" help.txt || fail "run --help: lru-cache is not among the workloads"

    # A run with every report; `rcgc report` reproduces it without the library.
    "$rcgc" run lru-cache --load "$lru" --quick --mode ft --json r.json --hgrm r.hgrm --html r.html \
        >run.txt || { cat run.txt; fail "rcgc run lru-cache failed"; }
    cat run.txt
    grep -q '^lru-cache: capacity 500, keys 1000, gets 20000, ' run.txt || fail "no header with the sizes"
    grep -q ': verified: 20000 gets, .* nodes checked both ways, nothing left' run.txt \
        || fail "lru-cache did not verify"
    grep -qE '^ +op +20000 ' run.txt || fail "not 20000 op latencies"
    grep -q '"capacity": 500' r.json || fail "r.json: params.capacity is not 500"
    [ -s r.hgrm ] && [ -s r.ops.hgrm ] && [ -s r.html ] || fail "the .hgrm or HTML reports are missing"
    "$rcgc" report r.json >report.txt || fail "rcgc report r.json failed without --load"
    diff run.txt report.txt || fail "rcgc report r.json differs from the run's table"

    # What the driver passes: sizes (one may be 0), threads and seed.
    "$rcgc" run wl-sizes --load "$tw" --rounds 4 --zero 0 --threads 2 --seed 99 --json s.json >s.txt \
        || { cat s.txt; fail "rcgc run wl-sizes failed"; }
    grep -q 'verified: size 4 zero 0 threads 2 seed 99$' s.txt || { cat s.txt; fail "wl-sizes: flags not passed"; }
    grep -q '^wl-sizes: rounds 4, zero 0, ' s.txt || { cat s.txt; fail "wl-sizes: header without its sizes"; }
    grep -q '"ops": 2,' s.json || fail "s.json: ops is not 2 (1 per thread)"
    "$rcgc" run wl-sizes --load "$tw" --quick >q.txt || fail "rcgc run wl-sizes --quick failed"
    grep -q 'verified: size 2 zero 0 threads 3 seed 7$' q.txt || { cat q.txt; fail "wl-sizes: quick sizes"; }
    "$rcgc" run wl-sizes --load "$tw" >d.txt || fail "rcgc run wl-sizes failed"
    grep -q 'verified: size 5 zero 3 threads 3 seed 7$' d.txt || { cat d.txt; fail "wl-sizes: defaults"; }

    # compare passes the libraries and the sizes to its children.
    "$rcgc" compare lru-cache --load "$lru" --quick --modes gil,ft --collectors stw,concurrent \
        --capacity 100 >c.txt || { cat c.txt; fail "rcgc compare lru-cache failed"; }
    cat c.txt
    n=$(grep -c ': verified: 20000 gets, .* 100 nodes checked both ways, nothing left' c.txt) || true
    [ "$n" -eq 4 ] || fail "compare lru-cache: $n of 4 runs verified with capacity 100"
    "$rcgc" compare wl-sizes --load "$tw" --zero 0 --modes ft --threads 2,3 >c2.txt \
        || { cat c2.txt; fail "rcgc compare wl-sizes failed"; }
    grep -q 'verified: size 5 zero 0 threads 2 seed 7$' c2.txt && grep -q 'verified: size 5 zero 0 threads 3 seed 7$' c2.txt \
        || { cat c2.txt; fail "compare wl-sizes: --zero 0 did not reach the children"; }

    # A run that fails, each way: exit 1, the reason on stderr.
    # (verify runs after a failed thread: it drops setup's list, so no
    # run but wl-leak leaks.)
    for case in "wl-setup-fail|setup failed: the setup refused on purpose" \
                "wl-setup-fail-msg|setup failed: the setup failed through run->fail" \
                "wl-thread-fail|thread 1 failed on purpose" \
                "wl-thread-silent|thread 0 returned -1 without calling run->fail" \
                "wl-start-fail|could not start thread 1 of 3, so none ran" \
                "wl-verify-fail|the checksum is wrong on purpose" \
                "wl-leak|1 objects leaked"; do
        w=${case%%|*}
        msg=${case#*|}
        for m in gil ft ft-atomic; do
            st=0
            # wl-leak leaks on purpose: LeakSanitizer (ASan builds) would
            # abort at exit instead of letting rcgc report it.
            ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
                timeout 60 "$rcgc" run "$w" --load "$tw" --mode $m >f.txt 2>f.err || st=$?
            [ "$st" -eq 1 ] || { cat f.txt f.err; fail "rcgc run $w --mode $m: exit $st, not 1"; }
            grep -qF "$msg" f.err || { cat f.err; fail "rcgc run $w --mode $m: no '$msg' on stderr"; }
            [ "$w" = wl-leak ] || ! grep -q leaked f.err || { cat f.err; fail "rcgc run $w --mode $m leaked"; }
        done
    done
    # A size named like a built-in one: the same flag, and 0 is a value.
    "$rcgc" run wl-depth --load "$tw" --depth 0 >z.txt || { cat z.txt; fail "wl-depth --depth 0 failed"; }
    grep -q 'verified: depth 0$' z.txt && grep -q '^wl-depth: depth 0, ' z.txt \
        || { cat z.txt; fail "wl-depth: --depth 0 did not reach it, or the header hides it"; }
    st=0
    "$rcgc" run binary-trees --load "$tw" --depth 0 >/dev/null 2>z.err || st=$?
    [ "$st" -eq 2 ] && grep -q -- "--depth needs an integer >= 1, not '0'" z.err \
        || { cat z.err; fail "binary-trees --depth 0 is not refused as before"; }
    echo "load ok"
    ;;
sizes)
    # Sizes within the bounds and the machine's memory still run: the
    # smallest depth, and quick sizes with a larger heap.
    cd "$tmp" || exit 1
    "$rcgc" run binary-trees --quick --depth 4 >bt.txt || fail "rcgc run binary-trees --depth 4 failed"
    grep -q '^binary-trees: depth 4, ' bt.txt || fail "the run did not use --depth 4"
    grep -q ': verified: depth 4: ' bt.txt || fail "binary-trees --depth 4 did not verify"
    "$rcgc" run cycle-churn --quick --live 20000 --cycles 2000 --json cc.json >cc.txt \
        || fail "rcgc run cycle-churn --live 20000 failed"
    grep -q '"live": 20000' cc.json || fail "cc.json: params.live is not 20000"
    grep -q ': verified: ' cc.txt || fail "cycle-churn --live 20000 did not verify"
    echo "sizes ok"
    ;;
teardown)
    # wall_s times the workload's work (setup and workers, as the peer
    # programs and the floors do); the teardown after it (checking,
    # dropping the live heap, the collection that shows nothing is left)
    # is teardown_s.  The last collection, the one that freed the live
    # heap (every one of its nodes), starts after the measured part; a
    # library's workload, which does not say where its work ends, is timed
    # whole.  Usage: cli_test.sh RCGC teardown LRU.so
    lru=$1
    cd "$tmp" || exit 1
    "$rcgc" run cycle-churn --quick --live 20000 --cycles 2000 --json t.json >/dev/null \
        || fail "rcgc run cycle-churn failed"
    # The last collection's start and count: the last of each before "stops".
    awk '/"stops"/ { exit }
         /"start_ns":/ { gsub(/[",]/, ""); start = $2 }
         /"collected":/ { gsub(/[",]/, ""); collected = $2 }
         /"wall_s":/ { gsub(/[",]/, ""); wall = $2 }
         /"teardown_s":/ { gsub(/[",]/, ""); td = $2 }
         /"ops": [0-9]/ { gsub(/[",]/, ""); ops = $2 }
         /"ops_per_s":/ { gsub(/[",]/, ""); rate = $2 }
         END {
             printf "wall_s %s teardown_s %s last collection at %s ns, collected %s\n",
                    wall, td, start, collected
             d = rate - ops / wall; if (d < 0) d = -d
             exit !(td > 0 && wall > 0 && collected >= 20000 && start >= wall * 1e9 &&
                    d <= 1e-6 * rate)
         }' t.json || fail "t.json: the teardown is not timed apart from the work"
    "$rcgc" run lru-cache --load "$lru" --quick --json l.json >/dev/null || fail "rcgc run lru-cache failed"
    grep -qE '"teardown_s": 0(\.0)?,' l.json || fail "l.json: a library's workload has a teardown_s"
    "$rcgc" report t.json >/dev/null || fail "rcgc report t.json failed"
    echo "teardown ok"
    ;;
old-report)
    # A report written before "collector", "gc_threshold", "gc_stress",
    # "gc_verify", "sensor_slice_ns" and "sensor_max_at_ns" existed (a
    # fresh one without them) still reads: the collector is stw, the
    # thresholds unknown (left out of the header), stress and verify off
    # (left out too); the rest is as before.
    cd "$tmp" || exit 1
    "$rcgc" run cycle-churn --quick --live 100 --cycles 300 --mode ft --gc-stress 5 --gc-verify \
        --json new.json >/dev/null || fail "rcgc run failed"
    sed -z 's/,[[:space:]]*"collector": "[a-z]*"//g; s/,[[:space:]]*"gc_threshold": \[[^]]*\]//g;
            s/,[[:space:]]*"gc_stress": [0-9]*//g; s/,[[:space:]]*"gc_verify": [a-z]*//g;
            s/,[[:space:]]*"sensor_slice_ns": [0-9]*//g; s/,[[:space:]]*"sensor_max_at_ns": [0-9]*//g' \
        new.json >old.json
    grep -q '"collector"\|"gc_threshold"\|"gc_stress"\|"gc_verify"\|"sensor_slice_ns"\|"sensor_max_at_ns"' old.json \
        && fail "could not strip the fields"
    grep -q '"mode": "ft"' old.json || fail "stripping the fields broke old.json"
    "$rcgc" report old.json >old.txt || fail "rcgc report of an old-style report failed"
    cat old.txt
    "$rcgc" report new.json >new.txt || fail "rcgc report new.json failed"
    grep -q ', gc stress 5, verify, seed' new.txt || fail "new.json's header does not show stress and verify"
    sed 's/, gc thresholds [0-9]*\/[0-9]*\/[0-9]*, gc stress 5, verify//' new.txt >new-less.txt
    diff new-less.txt old.txt || fail "the old-style report's table differs from the new one's (less thresholds, stress, verify)"
    grep -qE '^ft +stw +1 ' old.txt || fail "an old-style report's collector is not shown as stw"
    grep -q 'gc thresholds' old.txt && fail "an old-style report shows thresholds it does not hold"
    grep -q 'gc stress\|verify,' old.txt && fail "an old-style report shows stress or verify"
    "$rcgc" report old.json --html old.html >/dev/null || fail "rcgc report old.json --html failed"
    grep -q '<td>ft</td><td>stw</td>' old.html || fail "old.html does not show the collector stw"
    echo "old-style report ok"
    ;;
html)
    cd "$tmp" || exit 1
    case "$1" in
    run) "$rcgc" run binary-trees --quick --html out.html >/dev/null || fail "rcgc run --html failed" ;;
    compare)
        "$rcgc" compare binary-trees --quick --modes gil,ft --threads 1 --html out.html >/dev/null \
            || fail "rcgc compare --html failed"
        ;;
    report)
        "$rcgc" run cycle-churn --quick --mode ft --json r.json >/dev/null || fail "rcgc run failed"
        "$rcgc" report r.json --html out.html >/dev/null || fail "rcgc report --html failed"
        ;;
    concurrent)
        # Both collectors: the timeline draws the concurrent runs' cycles
        # (one bar per collection that ended one), and no bar for stw; the
        # report of the JSON draws the same.
        "$rcgc" compare cycle-churn --quick --modes ft --threads 1 --collectors stw,concurrent \
            --html out.html --json c.json >/dev/null || fail "rcgc compare --html failed"
        grep -q '<g class="cycles" data-run="ft concurrent x1" data-count="[1-9][0-9]*"' out.html \
            || fail "out.html: no concurrent cycles drawn for ft concurrent x1"
        grep -q '<g class="cycles" data-run="ft stw x1"' out.html \
            && fail "out.html: cycles drawn for the stop-the-world run"
        n=$(grep -o '<g class="cycles" data-run="ft concurrent x1" data-count="[0-9]*"' out.html \
            | sed 's/.*data-count="//; s/"//')
        lines=$(grep -o '<line class="cycle" x1="[0-9.]*" y1="[0-9.]*" x2="[0-9.]*"' out.html | wc -l)
        [ "$lines" -eq "$n" ] || fail "out.html: $lines cycle bars, data-count says $n"
        grep -q '<title>concurrent cycle from [0-9.]* s to [0-9.]* s: [^<]* of concurrent work over ' out.html \
            || fail "out.html: a cycle bar has no tooltip"
        "$rcgc" report c.json --html again.html >/dev/null || fail "rcgc report c.json --html failed"
        again=$(grep -o '<line class="cycle"' again.html | wc -l)
        [ "$again" -eq "$n" ] || fail "the report of c.json draws $again cycle bars, the run $n"
        ;;
    *) fail "unknown html case '$1'" ;;
    esac
    [ -s out.html ] || fail "no out.html"
    for id in '<table id="throughput"' '<table id="latency"' '<svg id="pause-timeline"' \
        '<svg id="percentiles-stall"' '<svg id="percentiles-gc-pause"'; do
        grep -qF "$id" out.html || fail "out.html has no $id"
    done
    grep -q '<path class="curve"' out.html || fail "out.html has no percentile curve"
    if grep -o 'https\{0,1\}://[^"]*' out.html | grep -v '^http://www.w3.org/2000/svg$'; then
        fail "out.html refers to a URL"
    fi
    grep -qi '<script' out.html && fail "out.html has a script"
    echo "html $1 ok ($(wc -c <out.html) bytes)"
    ;;
read)
    # shared-refs' --read: the default (borrow), ref, carried into the
    # table's header, the JSON params, `rcgc report`, and compare's children.
    cd "$tmp" || exit 1
    "$rcgc" run shared-refs --quick --mode ft --threads 2 --json b.json >b.txt \
        || fail "rcgc run shared-refs failed"
    cat b.txt
    grep -q '^shared-refs: iterations [0-9]*, read borrow, gc thresholds [0-9/]*, seed ' b.txt \
        || fail "the default read mode is not borrow in the header"
    grep -q '"read": "borrow"' b.json || fail "b.json: params.read is not \"borrow\""
    "$rcgc" run shared-refs --quick --mode ft --threads 2 --read ref --json r.json >r.txt \
        || fail "rcgc run shared-refs --read ref failed"
    grep -q ', read ref, ' r.txt || fail "--read ref not in the header"
    grep -q '(ref), sum ' r.txt || fail "--read ref not in the verification line"
    grep -q '"read": "ref"' r.json || fail "r.json: params.read is not \"ref\""
    "$rcgc" report r.json >report.txt || fail "rcgc report r.json failed"
    diff r.txt report.txt || fail "rcgc report r.json differs from the run's table"
    "$rcgc" report r.json --html r.html >/dev/null || fail "rcgc report r.json --html failed"
    grep -q 'class="meta setup">shared-refs: iterations [0-9]*, read ref, gc thresholds [0-9/]*, seed ' r.html \
        || fail "the HTML report's setup line does not show read ref"
    "$rcgc" run binary-trees --quick --json t.json >/dev/null || fail "rcgc run binary-trees failed"
    grep -q '"read": null' t.json || fail "t.json: params.read is not null"
    # A report from before params.read existed still reads.
    sed -z 's/,[[:space:]]*"read": null//g' t.json >old.json
    grep -q '"read"' old.json && fail "could not remove read from the report"
    "$rcgc" report old.json >/dev/null || fail "rcgc report of a report without params.read failed"
    "$rcgc" compare shared-refs --quick --modes gil,ft --threads 1 --read ref >c.txt \
        || fail "rcgc compare --read ref failed"
    cat c.txt
    grep -q ', read ref, ' c.txt || fail "compare's children did not get --read ref"
    [ "$(grep -c '(ref), sum ' c.txt)" -eq 2 ] || fail "compare: not every run read with ref"
    # shared-objects reads slots the same two ways.
    "$rcgc" run shared-objects --quick --mode ft --threads 2 >so.txt \
        || fail "rcgc run shared-objects failed"
    grep -q '^shared-objects: iterations [0-9]*, read borrow, ' so.txt \
        || fail "shared-objects: the default read mode is not borrow in the header"
    grep -q 'reads (borrow, ' so.txt || fail "shared-objects: borrow not in the verification line"
    "$rcgc" run shared-objects --quick --mode ft --threads 2 --read ref >sor.txt \
        || fail "rcgc run shared-objects --read ref failed"
    grep -q 'reads (ref, ' sor.txt || fail "shared-objects: ref not in the verification line"
    echo "read ok"
    ;;
report-bad)
    cd "$tmp" || exit 1
    echo '{"schema": "rcgc-run/999", "runs": []}' >v.json
    expect_error 1 "v.json" "rcgc-run/1" -- report v.json
    echo '{"schema": "rcgc-run/1", "runs": [{"workload": "x"}]}' >m.json
    expect_error 1 "m.json" "runs[0].mode" "missing" -- report m.json
    echo '{"schema": ' >t.json
    expect_error 1 "t.json" -- report t.json
    ;;
*)
    fail "unknown case '$case_'"
    ;;
esac
exit 0
