#!/usr/bin/env bash
# Build every configuration and run every test: plain (RelWithDebInfo),
# ThreadSanitizer, AddressSanitizer+UBSan, and the torture configuration
# (gcstress: ASan+UBSan with GC stress and the heap verifier on; the unit,
# stress and workload tests, docs/torture.md).  This is what CI runs.
#   tools/check.sh               all four configurations
#   tools/check.sh default asan  only those presets
set -euo pipefail
cd "$(dirname "$0")/.."
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(default tsan asan gcstress)
jobs=$(nproc 2>/dev/null || echo 2)
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 abort_on_error=1 ${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1 halt_on_error=1 ${UBSAN_OPTIONS:-}"
# The layers (docs/gc.md [gc.layers]): fails when a runtime file reaches
# into the collector other than through gc/hooks.h.
tools/check-layers.sh
for p in "${presets[@]}"; do
  echo "=== configuration: $p ==="
  cmake --preset "$p" >/dev/null
  cmake --build --preset "$p" -j "$jobs"
  ctest --preset "$p" -j "$jobs"
  if [ "$p" = default ]; then
    # Benchmarks print same-run ratios so a regression shows in the log;
    # they never fail the build (shared machines are noisy).
    echo "=== benchmarks (informational) ==="
    build/default/tools/rcgc-refbench --quick || echo "rcgc-refbench failed (informational only)"
    build/default/tools/rcgc-bench --quick || echo "rcgc-bench failed (informational only)"
    build/default/tools/rcgc-gcbench --quick || echo "rcgc-gcbench failed (informational only)"
  fi
done
echo "=== all configurations passed: ${presets[*]} ==="
