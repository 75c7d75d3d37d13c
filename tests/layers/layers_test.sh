#!/bin/sh
# tests/layers/layers_test.sh SRCDIR: tools/check-layers.sh passes on the
# tree, and fails (naming the file) on a copy where a runtime file includes
# a collector header other than gc/hooks.h, or a workload an internal one.
set -eu
src=$1
sh_bash=$(command -v bash)
"$sh_bash" "$src/tools/check-layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy() {
  rm -rf "$tmp/t"; mkdir -p "$tmp/t/tools"
  cp -r "$src/runtime" "$src/gc" "$src/workloads" "$tmp/t/"
  cp "$src/tools/check-layers.sh" "$tmp/t/tools/"
  mkdir -p "$tmp/t/tools/x"; touch "$tmp/t/tools/x/cli.h"
}
expect_fail() {   # what, file
  if "$sh_bash" "$tmp/t/tools/check-layers.sh" 2>"$tmp/err"; then
    echo "FAIL: check-layers passed with $1" >&2; exit 1
  fi
  grep -q "$2" "$tmp/err" || { echo "FAIL: the message does not name $2:" >&2; cat "$tmp/err" >&2; exit 1; }
  echo "ok: refused $1"
}
copy; echo '#include "collector.h"' >> "$tmp/t/runtime/lock.c"
expect_fail "runtime/lock.c including gc/collector.h" "runtime/lock.c"
copy; echo '#include "stw_collector.h"' >> "$tmp/t/runtime/internal.h"; touch "$tmp/t/gc/stw_collector.h"
expect_fail "runtime/internal.h including a second gc header" "runtime/internal.h"
copy; echo '#include "internal.h"' >> "$tmp/t/workloads/registry.c"
expect_fail "a workload including internal.h" "workloads/registry.c"
copy; echo '#include "cli.h"' >> "$tmp/t/gc/api.c"
expect_fail "gc/api.c including a tools header" "gc/api.c"
