#!/usr/bin/env bash
# Install the Debian packages rcgc needs to build and test, if missing.
#   cmake, gcc, pkg-config, make  : build (gcc 12 has ThreadSanitizer)
#   liburcu-dev                   : wait-free queues (BRC merge queues), QSBR
#   libcmocka-dev                 : unit tests
#   libjansson-dev                : JSON reports
#   libmimalloc-dev               : the object allocator of plain builds
#                                   (RCGC_ALLOCATOR=mimalloc, docs/memory.md)
#   chromium                      : headless browser of the HTML report test
#                                   (tests/cli/html_test.sh; skipped without it)
set -euo pipefail
pkgs=(cmake gcc pkg-config make liburcu-dev libcmocka-dev libjansson-dev libmimalloc-dev chromium)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
