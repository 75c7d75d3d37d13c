#!/usr/bin/env bash
# The layers read top to bottom: tools -> workloads -> gc -> runtime
# (docs/gc.md [gc.layers]).  Fails, naming the file and the include, when:
#   - a runtime/ file includes a gc/ header other than hooks.h (the one way
#     back up: the runtime reaches the collector only through it);
#   - a gc/ file includes anything from workloads/ or tools/;
#   - a workloads/ file includes an internal header (workloads use only the
#     public API, rcgc/*.h).
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
gc_headers=$(cd gc && ls *.h)
# '#include "x.h"' lines of the given files, as "file:header".
includes() {
  grep -H -o '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*"' "$@" 2>/dev/null |
    sed -E 's/:[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]*)"/:\1/' || true
}
while IFS=: read -r file header; do
  [ -n "$file" ] || continue
  base=${header##*/}
  if [ "$base" != hooks.h ] && printf '%s\n' $gc_headers | grep -qx "$base"; then
    echo "check-layers: $file includes gc/$base; the runtime reaches the collector only through gc/hooks.h" >&2
    fail=1
  fi
done < <(includes runtime/*.c runtime/*.h runtime/include/rcgc/*.h)
wl_headers=$(cd workloads && ls *.h)
tool_headers=$(find tools -name '*.h' -printf '%f\n')
while IFS=: read -r file header; do
  [ -n "$file" ] || continue
  base=${header##*/}
  if printf '%s\n' $wl_headers $tool_headers | grep -qx "$base"; then
    echo "check-layers: $file includes $header from a layer above gc (workloads/ or tools/)" >&2
    fail=1
  fi
done < <(includes gc/*.c gc/*.h)
while IFS=: read -r file header; do
  [ -n "$file" ] || continue
  case "$header" in
    rcgc/*) ;;                                  # the public API
    *) if [ ! -e "workloads/$header" ] && [ ! -e "$(dirname "$file")/$header" ]; then
         echo "check-layers: $file includes \"$header\"; workloads use only the public API (rcgc/*.h) and their own headers" >&2
         fail=1
       fi ;;
  esac
done < <(includes workloads/*.c workloads/*.h)
if [ "$fail" -ne 0 ]; then
  echo "check-layers: FAILED" >&2
  exit 1
fi
echo "check-layers: runtime -> gc only through gc/hooks.h; gc includes nothing above it; workloads use the public API"
