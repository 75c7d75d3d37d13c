#!/usr/bin/env bash
# A/B comparison of two `rcgc` programs (two commits, two allocators, two
# build options): runs the same workloads from both, alternately, trial by
# trial, in one run, and prints the medians of throughput, collector pauses
# and peak memory with the ratio B/A as a BENCHMARKS.md-ready table.
# Nothing is asserted: on a shared machine only the same-run ratio means
# anything.
#
#   tools/bench/rcgc-ab.sh [--trials N] [--quick] [--names A,B] RCGC_A RCGC_B
#
# RCGC_A, RCGC_B: an rcgc executable, or a build directory holding
# tools/rcgc.  For the program of an older commit:
#   git worktree add /tmp/ab/old OLDREV && cmake -S /tmp/ab/old -B /tmp/ab/old/build \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/ab/old/build -j2 --target rcgc_cli
#   tools/bench/rcgc-ab.sh --names old,new /tmp/ab/old/build build/default
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: tools/bench/rcgc-ab.sh [--trials N] [--quick] [--names A,B] RCGC_A RCGC_B
Run binary-trees (gil, ft; 1 thread), cycle-churn (gil, ft; 1 thread) and
latency-service (ft; 1 and 2 threads) from both programs, alternating trial
by trial (the order flipped every trial), and print median ops/s, GC pause
p99 and max, and peak RSS, with the ratio B/A.

  --trials N   trials per configuration and program, N >= 1 (default 5)
  --quick      the workloads' quick sizes (a smoke run; figures not meaningful)
  --names A,B  what to call the two programs in the table (default A,B)
  --help       show this help
USAGE
}

die_usage() {
  echo "rcgc-ab.sh: $*" >&2
  echo "try 'tools/bench/rcgc-ab.sh --help'" >&2
  exit 2
}

trials=5
quick=()
names=(A B)
progs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --trials)
      [ $# -ge 2 ] || die_usage "--trials needs a value: a whole number >= 1"
      [[ "$2" =~ ^[1-9][0-9]*$ ]] || die_usage "--trials must be a whole number >= 1, not '$2'"
      trials=$2
      shift 2
      ;;
    --names)
      [ $# -ge 2 ] || die_usage "--names needs a value: two names, A,B"
      [[ "$2" =~ ^[^,]+,[^,]+$ ]] || die_usage "--names must be two names separated by a comma, not '$2'"
      IFS=, read -r names[0] names[1] <<<"$2"
      shift 2
      ;;
    --quick) quick=(--quick); shift ;;
    --help|-h) usage; exit 0 ;;
    -*) die_usage "unknown flag '$1' (valid: --trials N, --quick, --names A,B, --help)" ;;
    *) progs+=("$1"); shift ;;
  esac
done
[ ${#progs[@]} -eq 2 ] || die_usage "expected two programs, RCGC_A and RCGC_B, got ${#progs[@]}"
for i in 0 1; do
  p=${progs[$i]}
  [ -d "$p" ] && p=$p/tools/rcgc
  [ -x "$p" ] && [ ! -d "$p" ] ||
    die_usage "${names[$i]}: '${progs[$i]}' is not an rcgc executable nor a build directory with tools/rcgc"
  progs[$i]=$p
done

# workload mode threads
configs=(
  "binary-trees gil 1"
  "binary-trees ft 1"
  "cycle-churn gil 1"
  "cycle-churn ft 1"
  "latency-service ft 1"
  "latency-service ft 2"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The value of key $2 ("p99", "max") in the "gc_pause" object of the
# "percentiles" block of JSON report $1 (the first "gc_pause": { ... }).
pause_of() {
  awk -v key="\"$2\":" '/"gc_pause": \{/ { inside = 1; next }
    inside && index($0, key) { gsub(/[^0-9]/, "", $2); print $2; exit }
    inside && /\}/ { exit }' "$1"
}

# One run: appends "ops_per_s pause_p99_ns pause_max_ns peak_rss_kb" to
# $tmp/<config>.<program>.
run_one() {
  local c=$1 b=$2
  local wl mode th
  read -r wl mode th <<<"${configs[$c]}"
  local json="$tmp/run.json"
  if ! "${progs[$b]}" run "$wl" --mode "$mode" --threads "$th" "${quick[@]}" \
      --json "$json" >"$tmp/run.out" 2>&1; then
    echo "rcgc-ab.sh: $wl --mode $mode --threads $th failed in ${names[$b]}:" >&2
    cat "$tmp/run.out" >&2
    exit 1
  fi
  local ops rss p99 max
  ops=$(sed -n 's/^ *"ops_per_s": *\([0-9.eE+-]*\).*/\1/p' "$json" | head -n 1)
  rss=$(sed -n 's/^ *"peak_rss_kb": *\([0-9]*\).*/\1/p' "$json" | head -n 1)
  p99=$(pause_of "$json" p99)
  max=$(pause_of "$json" max)
  [ -n "$ops" ] && [ -n "$rss" ] && [ -n "$p99" ] && [ -n "$max" ] ||
    { echo "rcgc-ab.sh: no ops_per_s/peak_rss_kb/gc_pause in $json" >&2; exit 1; }
  echo "$ops $p99 $max $rss" >>"$tmp/$c.$b"
}

# Median of column $2 of file $1.
median() {
  sort -g -k"$2","$2" "$1" | awk -v k="$2" '{ v[NR] = $k }
    END { if (NR % 2) printf "%.6g\n", v[(NR + 1) / 2];
          else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "rcgc-ab: $trials trial(s) per configuration and program, alternated (order flipped every trial)" >&2
for ((t = 1; t <= trials; t++)); do
  for c in "${!configs[@]}"; do
    if ((t % 2)); then order=(0 1); else order=(1 0); fi
    for b in "${order[@]}"; do
      [ -t 2 ] && printf '  trial %d/%d: %s (%s)\n' "$t" "$trials" "${configs[$c]}" "${names[$b]}" >&2
      run_one "$c" "$b"
    done
  done
done

a=${names[0]} b=${names[1]}
echo "A/B: median of $trials trials each, interleaved in one run; ratio = $b / $a."
echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}; load before the table: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Command: tools/bench/rcgc-ab.sh --trials $trials${quick:+ --quick} --names $a,$b ${progs[0]} ${progs[1]}"
echo
echo "| workload | mode | threads | $a ops/s | $b ops/s | ratio | $a pause p99 / max ms | $b pause p99 / max ms | $a peak RSS | $b peak RSS |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
for c in "${!configs[@]}"; do
  read -r wl mode th <<<"${configs[$c]}"
  ao=$(median "$tmp/$c.0" 1); bo=$(median "$tmp/$c.1" 1)
  ap=$(median "$tmp/$c.0" 2); bp=$(median "$tmp/$c.1" 2)
  am=$(median "$tmp/$c.0" 3); bm=$(median "$tmp/$c.1" 3)
  ar=$(median "$tmp/$c.0" 4); br=$(median "$tmp/$c.1" 4)
  awk -v wl="$wl" -v mode="$mode" -v th="$th" -v ao="$ao" -v bo="$bo" -v ap="$ap" -v bp="$bp" \
      -v am="$am" -v bm="$bm" -v ar="$ar" -v br="$br" \
    'BEGIN { printf "| %s | %s | %s | %.0f | %.0f | %.2f | %.2f / %.1f | %.2f / %.1f | %.1f MB | %.1f MB |\n",
             wl, mode, th, ao, bo, bo / ao, ap / 1e6, am / 1e6, bp / 1e6, bm / 1e6, ar / 1024, br / 1024 }'
done
