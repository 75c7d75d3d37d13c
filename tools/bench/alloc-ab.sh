#!/usr/bin/env bash
# A/B comparison of the object allocators (RCGC_ALLOCATOR, docs/memory.md):
# checks that the two builds were configured with the C library's malloc
# and with mimalloc, then runs tools/bench/rcgc-ab.sh on them (the
# workloads alternately, trial by trial, in one run; medians and the ratio
# mimalloc/system as a BENCHMARKS.md-ready table).  Nothing is asserted: on
# a shared machine only the same-run ratio means anything.
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
  cat <<'EOF2'
usage: tools/bench/alloc-ab.sh [--trials N] [--quick] SYSTEM_BUILD MIMALLOC_BUILD
Check the builds' allocators, then run tools/bench/rcgc-ab.sh on them (its
flags pass through): binary-trees and cycle-churn (gil, ft; 1 thread) and
latency-service (ft; 1 and 2 threads), alternating trial by trial; median
ops/s, GC pauses and peak RSS with the ratio mimalloc/system.
EOF2
}

die_usage() {
  echo "alloc-ab.sh: $*" >&2
  echo "try 'tools/bench/alloc-ab.sh --help'" >&2
  exit 2
}

for a in "$@"; do
  [ "$a" = --help ] || [ "$a" = -h ] && { usage; exit 0; }
done
[ $# -ge 2 ] && [[ "${*: -2:1}" != -* ]] && [[ "${*: -1}" != -* ]] ||
  die_usage "expected two build directories last, SYSTEM_BUILD and MIMALLOC_BUILD"
dirs=("${@: -2:1}" "${@: -1}")
names=(system mimalloc)
for i in 0 1; do
  d=${dirs[$i]}
  [ -x "$d/tools/rcgc" ] ||
    die_usage "${names[$i]^^}_BUILD '$d' has no tools/rcgc (configure and build it first)"
  got=$(sed -n 's/^RCGC_ALLOCATOR:[A-Z]*=//p' "$d/CMakeCache.txt" 2>/dev/null || true)
  [ "$got" = "${names[$i]}" ] ||
    die_usage "${names[$i]^^}_BUILD '$d' was configured with RCGC_ALLOCATOR='${got:-?}', not '${names[$i]}'"
done
# The flags (everything before the two directories) are rcgc-ab.sh's.
exec "$(dirname "$0")/rcgc-ab.sh" "${@:1:$#-2}" --names system,mimalloc "${dirs[0]}" "${dirs[1]}"
