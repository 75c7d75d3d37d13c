#!/usr/bin/env bash
# A/B comparison of the object allocators (RCGC_ALLOCATOR, docs/memory.md):
# runs the allocation-heavy workloads from a build with the C library's
# malloc and one with mimalloc, alternately, trial by trial, in one run, and
# prints the medians and the ratio mimalloc/system as a BENCHMARKS.md-ready
# table.  Nothing is asserted: on a shared machine only the same-run ratio
# means anything.
#
#   tools/bench/alloc-ab.sh [--trials N] [--quick] SYSTEM_BUILD MIMALLOC_BUILD
#
# SYSTEM_BUILD, MIMALLOC_BUILD: build directories configured with
# -DRCGC_ALLOCATOR=system and -DRCGC_ALLOCATOR=mimalloc (same build type),
# each with tools/rcgc built, for example:
#   cmake -S . -B /tmp/ab/system -DRCGC_ALLOCATOR=system && cmake --build /tmp/ab/system -j2
#   cmake -S . -B /tmp/ab/mimalloc -DRCGC_ALLOCATOR=mimalloc && cmake --build /tmp/ab/mimalloc -j2
#   tools/bench/alloc-ab.sh /tmp/ab/system /tmp/ab/mimalloc
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tools/bench/alloc-ab.sh [--trials N] [--quick] SYSTEM_BUILD MIMALLOC_BUILD
Run binary-trees (gil, ft; 1 thread), cycle-churn (gil, ft; 1 thread) and
latency-service (ft; 2 threads) from both builds, alternating trial by trial,
and print median ops/s and peak RSS with the ratio mimalloc/system.

  --trials N   trials per configuration and build, N >= 1 (default 5)
  --quick      the workloads' quick sizes (a smoke run; figures not meaningful)
  --help       show this help
EOF
}

die_usage() {
  echo "alloc-ab.sh: $*" >&2
  echo "try 'tools/bench/alloc-ab.sh --help'" >&2
  exit 2
}

trials=5
quick=()
dirs=()
while [ $# -gt 0 ]; do
  case "$1" in
    --trials)
      [ $# -ge 2 ] || die_usage "--trials needs a value: a whole number >= 1"
      [[ "$2" =~ ^[1-9][0-9]*$ ]] || die_usage "--trials must be a whole number >= 1, not '$2'"
      trials=$2
      shift 2
      ;;
    --quick) quick=(--quick); shift ;;
    --help|-h) usage; exit 0 ;;
    -*) die_usage "unknown flag '$1' (valid: --trials N, --quick, --help)" ;;
    *) dirs+=("$1"); shift ;;
  esac
done
[ ${#dirs[@]} -eq 2 ] ||
  die_usage "expected two build directories, SYSTEM_BUILD and MIMALLOC_BUILD, got ${#dirs[@]}"

names=(system mimalloc)
for i in 0 1; do
  d=${dirs[$i]}
  [ -x "$d/tools/rcgc" ] ||
    die_usage "${names[$i]^^}_BUILD '$d' has no tools/rcgc (configure and build it first)"
  got=$(sed -n 's/^RCGC_ALLOCATOR:[A-Z]*=//p' "$d/CMakeCache.txt" 2>/dev/null || true)
  [ "$got" = "${names[$i]}" ] ||
    die_usage "${names[$i]^^}_BUILD '$d' was configured with RCGC_ALLOCATOR='${got:-?}', not '${names[$i]}'"
done

# workload mode threads
configs=(
  "binary-trees gil 1"
  "binary-trees ft 1"
  "cycle-churn gil 1"
  "cycle-churn ft 1"
  "latency-service ft 2"
)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One run: appends "ops_per_s peak_rss_kb" to $tmp/<config>.<build>.
run_one() {
  local c=$1 b=$2
  local wl mode th
  read -r wl mode th <<<"${configs[$c]}"
  local json="$tmp/run.json"
  if ! "${dirs[$b]}/tools/rcgc" run "$wl" --mode "$mode" --threads "$th" "${quick[@]}" \
      --json "$json" >"$tmp/run.out" 2>&1; then
    echo "alloc-ab.sh: $wl --mode $mode --threads $th failed in ${names[$b]} build:" >&2
    cat "$tmp/run.out" >&2
    exit 1
  fi
  local ops rss
  ops=$(sed -n 's/^ *"ops_per_s": *\([0-9.eE+-]*\).*/\1/p' "$json" | head -n 1)
  rss=$(sed -n 's/^ *"peak_rss_kb": *\([0-9]*\).*/\1/p' "$json" | head -n 1)
  [ -n "$ops" ] && [ -n "$rss" ] || { echo "alloc-ab.sh: no ops_per_s/peak_rss_kb in $json" >&2; exit 1; }
  echo "$ops $rss" >>"$tmp/$c.$b"
}

# Median of column $2 of file $1.
median() {
  sort -g -k"$2","$2" "$1" | awk -v k="$2" '{ v[NR] = $k }
    END { if (NR % 2) printf "%.6g\n", v[(NR + 1) / 2];
          else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)
echo "alloc-ab: $trials trial(s) per configuration and build, builds alternated (order flipped every trial)" >&2
for ((t = 1; t <= trials; t++)); do
  for c in "${!configs[@]}"; do
    if ((t % 2)); then order=(0 1); else order=(1 0); fi
    for b in "${order[@]}"; do
      printf '  trial %d/%d: %s (%s)\n' "$t" "$trials" "${configs[$c]}" "${names[$b]}" >&2
      run_one "$c" "$b"
    done
  done
done

echo "Allocator A/B: median of $trials trials each, interleaved in one run; ratio = mimalloc / system."
echo "Machine: $(nproc) cores, ${cpu:-unknown CPU}."
echo "Command: tools/bench/alloc-ab.sh --trials $trials${quick:+ --quick} ${dirs[0]} ${dirs[1]}"
echo
echo "| workload | mode | threads | system ops/s | mimalloc ops/s | ratio | system peak RSS | mimalloc peak RSS | ratio |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
for c in "${!configs[@]}"; do
  read -r wl mode th <<<"${configs[$c]}"
  so=$(median "$tmp/$c.0" 1); mo=$(median "$tmp/$c.1" 1)
  sr=$(median "$tmp/$c.0" 2); mr=$(median "$tmp/$c.1" 2)
  awk -v wl="$wl" -v mode="$mode" -v th="$th" -v so="$so" -v mo="$mo" -v sr="$sr" -v mr="$mr" \
    'BEGIN { printf "| %s | %s | %s | %.0f | %.0f | %.2f | %.1f MB | %.1f MB | %.2f |\n",
             wl, mode, th, so, mo, mo / so, sr / 1024, mr / 1024, mr / sr }'
done
