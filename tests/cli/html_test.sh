#!/bin/sh
# tests/cli/html_test.sh RCGC: render the HTML report in headless Chromium.
#   `rcgc compare binary-trees --quick --modes gil,ft --threads 1 --html`
#   and `rcgc report r.json --html` (of a cycle-churn ft run) are loaded
#   with --dump-dom: the DOM Chromium built must hold the tables (a row per
#   run), the chart <svg>s by id and one percentile curve per run with a
#   non-empty d; the page must name no URL but the SVG namespace and hold
#   no script.  A --screenshot of the compare page must be a PNG of more
#   than a few KB.
# Exit 77 (CTest SKIP_RETURN_CODE) when Chromium is not installed
# (tools/setup-deps.sh installs the Debian package `chromium`).
set -u
rcgc=$1
case "$rcgc" in /*) ;; *) rcgc=$(pwd)/$rcgc ;; esac
chromium=""
for c in chromium chromium-browser; do
    if command -v "$c" >/dev/null 2>&1; then
        chromium=$(command -v "$c")
        break
    fi
done
if [ -z "$chromium" ]; then
    echo "SKIP: chromium is not installed (tools/setup-deps.sh installs it); the HTML report is not rendered"
    exit 77
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rcgc-html-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$tmp" || exit 1

# Chromium as root needs --no-sandbox; the rest keeps it off the network
# (there is none here) and out of the user's profile.
browse() {
    mkdir -p "$tmp/profile"
    "$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
        --disable-background-networking --disable-component-update --disable-sync \
        --user-data-dir="$tmp/profile" "$@" 2>>"$tmp/chromium.err"
}

# check_page HTML RUN...: the dumped DOM of HTML shows each RUN ("gil stw x1").
check_page() {
    page=$1
    shift
    if grep -o 'https\{0,1\}://[^" ]*' "$page" | grep -v '^http://www.w3.org/2000/svg$'; then
        fail "$page refers to a URL: it must be self-contained"
    fi
    grep -qi '<script\|<link\|<img\|<iframe\|@import\|url(' "$page" \
        && fail "$page loads something (script, link, img, iframe, css url)"
    browse --dump-dom "file://$tmp/$page" >"$page.dom" || fail "chromium --dump-dom $page failed"
    [ -s "$page.dom" ] || { cat "$tmp/chromium.err" >&2; fail "chromium dumped no DOM for $page"; }
    for id in 'table id="throughput"' 'table id="latency"' 'ul id="verification"' \
        'svg id="pause-timeline"' 'svg id="percentiles-stall"' 'svg id="percentiles-gc-pause"'; do
        grep -qF "<$id" "$page.dom" || fail "$page: the DOM has no <$id"
    done
    # One curve per line, to count them per chart.
    tr '\n' ' ' <"$page.dom" | sed 's/<svg /\n<svg /g; s/<path /\n<path /g' >"$page.lines"
    nruns=$#
    for run in "$@"; do
        grep -qF "<tr class=\"run\" data-run=\"$run\">" "$page.dom" || fail "$page: no table row for $run"
        grep -qF "<tr class=\"lat\" data-run=\"$run\" data-latency=\"stall\">" "$page.dom" \
            || fail "$page: no latency row for $run"
        grep -qF "<g class=\"legend-entry\" data-run=\"$run\">" "$page.dom" \
            || fail "$page: no legend entry for $run"
    done
    # The stall chart: one curve per run, each with a non-empty path.
    awk '/^<svg /{c=0} /^<svg id="percentiles-stall"/{c=1} c' "$page.lines" >"$page.stall"
    curves=$(grep -c '^<path class="curve"' "$page.stall")
    [ "$curves" -eq "$nruns" ] || fail "$page: $curves stall curves, expected $nruns"
    good=$(grep -cE '^<path class="curve"[^>]* d="M[0-9.]+ [0-9.]+H[0-9.]+' "$page.stall")
    [ "$good" -eq "$nruns" ] || fail "$page: $good stall curves with a non-empty d, expected $nruns"
    for run in "$@"; do
        grep -qF "<path class=\"curve\" data-run=\"$run\"" "$page.stall" \
            || fail "$page: no stall curve for $run"
    done
    # GC pauses: a curve and a timeline series per run that collected.
    awk '/^<svg /{c=0} /^<svg id="percentiles-gc-pause"/{c=1} c' "$page.lines" >"$page.gc"
    awk '/^<svg /{c=0} /^<svg id="pause-timeline"/{c=1} c' "$page.lines" >"$page.tl"
    for run in "$@"; do
        if grep -qF "data-run=\"$run\"><rect" "$page.tl" && grep -qF "$run (no collections)" "$page.tl"; then
            echo "$page: $run made no collections"
            continue
        fi
        grep -qF "<g class=\"series\" data-run=\"$run\"" "$page.tl" \
            || fail "$page: no pause timeline series for $run"
        grep -qF '<circle class="mark"' "$page.tl" || fail "$page: no pause marks"
        grep -qE "^<path class=\"curve\" data-run=\"$run\"[^>]* d=\"M" "$page.gc" \
            || fail "$page: no GC pause curve for $run"
    done
    echo "$page: DOM ok ($curves stall curves, $(grep -o '<circle class="mark"' "$page.tl" | wc -l) pause marks)"
}

"$rcgc" compare binary-trees --quick --modes gil,ft --threads 1 --html out.html >compare.txt \
    || fail "rcgc compare --html failed"
cat compare.txt
check_page out.html "gil stw x1" "ft stw x1"

"$rcgc" run cycle-churn --quick --mode ft --json r.json >run.txt || fail "rcgc run failed"
"$rcgc" report r.json --html r.html >/dev/null || fail "rcgc report --html failed"
check_page r.html "ft stw x1"

browse --screenshot="$tmp/shot.png" --window-size=1200,2000 "file://$tmp/out.html" >/dev/null \
    || fail "chromium --screenshot failed"
[ -f shot.png ] || { cat "$tmp/chromium.err" >&2; fail "no screenshot"; }
size=$(wc -c <shot.png)
head -c 8 shot.png | od -An -c | grep -q 'P   N   G' || fail "shot.png is not a PNG"
[ "$size" -gt 20000 ] || fail "the screenshot is only $size bytes: the page did not render"
echo "screenshot ok ($size bytes)"
if [ -n "${RCGC_HTML_KEEP:-}" ]; then
    cp out.html r.html shot.png "$RCGC_HTML_KEEP"/ && echo "kept in $RCGC_HTML_KEEP"
fi
exit 0
