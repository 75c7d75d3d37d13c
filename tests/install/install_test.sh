#!/usr/bin/env bash
# tests/install/install_test.sh BUILD SRC CC VERSION [CMAKE]: the installed
# package (test install.package).  Installs the build BUILD into a temporary
# prefix and checks:
#   - bin/ holds the rcgc command and the benchmark programs, no tests, and
#     `rcgc --version` prints "rcgc VERSION";
#   - each installed header compiles on its own;
#   - librcgc.so's soname is librcgc.so.MAJOR.MINOR, and it exports exactly
#     the rc_* names declared in the installed headers;
#   - the program of README.md's "## Using the runtime" section builds and
#     runs against the package: with CC and pkg-config, and with CMake's
#     find_package(rcgc) linking rcgc::rcgc and then rcgc::rcgc_static (the
#     latter must not need librcgc.so);
#   - workloads/examples/lru_cache.c builds against the installed headers
#     alone and the installed rcgc runs it through --load.
set -Eeuo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 BUILD SRC CC VERSION [CMAKE]" >&2
  exit 2
fi
build=$1 src=$2 cc=$3 version=$4 cmake=${5:-cmake}
major_minor=${version%.*}    # 0.1.0 -> 0.1: the soname's version

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# Any other failing command: say which, and where (-E: in functions too).
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND" >&2; exit 1' ERR
# Run "$@", its output in $tmp/log; on failure show the log and fail with
# the message $what.
run() {
  local what=$1; shift
  if ! "$@" >"$tmp/log" 2>&1; then
    cat "$tmp/log" >&2
    fail "$what"
  fi
}

prefix=$tmp/prefix
echo "== cmake --install $build --prefix $prefix"
run "cmake --install $build --prefix $prefix" "$cmake" --install "$build" --prefix "$prefix"

# ---- programs ----
expected_bin="rcgc rcgc-bench rcgc-floor-binary-trees rcgc-floor-cycle-churn rcgc-floor-latency-service rcgc-gcbench rcgc-refbench"
bin=$(cd "$prefix/bin" && ls | LC_ALL=C sort | tr '\n' ' ')
[ "${bin% }" = "$expected_bin" ] ||
  fail "bin/ holds '${bin% }', expected '$expected_bin'"
out=$("$prefix/bin/rcgc" --version) || fail "installed rcgc --version exited $?"
[ "$out" = "rcgc $version" ] || fail "installed rcgc --version printed '$out', expected 'rcgc $version'"
echo "ok: bin/ holds $expected_bin; rcgc --version prints '$out'"

# ---- headers ----
for h in "$src"/runtime/include/rcgc/*.h; do
  name=${h##*/}
  [ -f "$prefix/include/rcgc/$name" ] || fail "include/rcgc/$name was not installed"
  printf '#include <rcgc/%s>\n' "$name" > "$tmp/header.c"
  run "installed header rcgc/$name does not compile on its own" \
      "$cc" -std=c11 -Wall -Wextra -Werror -fsyntax-only -I"$prefix/include" "$tmp/header.c"
done
echo "ok: every header installed, each compiles on its own"

# ---- librcgc.so ----
so=$(find "$prefix" -name librcgc.so)
[ -n "$so" ] || fail "no librcgc.so under $prefix"
libdir=$(dirname "$so")
[ -f "$libdir/librcgc.a" ] || fail "no librcgc.a beside $so"
dyn=$(readelf -d "$so") || fail "readelf -d $so"
soname=$(printf '%s\n' "$dyn" | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
[ "$soname" = "librcgc.so.$major_minor" ] || fail "librcgc.so's soname is '$soname', expected librcgc.so.$major_minor"
[ -e "$libdir/librcgc.so.$major_minor" ] || fail "no $libdir/librcgc.so.$major_minor"
echo "ok: $so, soname $soname"

# Exported symbols: nothing but rc_* (the linker's _init/_fini aside) ...
nm -D --defined-only "$so" | awk '{print $NF}' | LC_ALL=C sort -u > "$tmp/exported"
others=$(grep -v -E '^(rc_|_init$|_fini$)' "$tmp/exported" | tr '\n' ' ' || true)
[ -z "$others" ] || fail "librcgc.so exports symbols outside rc_*: $others"
# ... and exactly the functions and variables the installed headers declare:
# functions "TYPE [*]rc_NAME(" at the start of a line (not static inline
# definitions, not typedefs), and "extern ... rc_NAME" variables.
hdrs=("$prefix"/include/rcgc/*.h)
{
  grep -h -E '^[A-Za-z_][^(#]*[ *]rc_[A-Za-z0-9_]+\(' "${hdrs[@]}" |
    grep -v -E '^(static|typedef|extern)[[:space:]]' |
    sed -E 's/^[^(]*[ *](rc_[A-Za-z0-9_]+)\(.*/\1/'
  grep -h -E '^extern[[:space:]][^(]*[ *]rc_[A-Za-z0-9_]+' "${hdrs[@]}" |
    sed -E 's/^extern[^(]*[ *](rc_[A-Za-z0-9_]+).*/\1/'
} | LC_ALL=C sort -u > "$tmp/declared"
[ -s "$tmp/declared" ] || fail "found no rc_* declarations in the installed headers"
grep -E '^rc_' "$tmp/exported" > "$tmp/exported_rc" || true
missing=$(LC_ALL=C comm -13 "$tmp/exported_rc" "$tmp/declared" | tr '\n' ' ')
[ -z "$missing" ] || fail "declared in the public headers but not exported by librcgc.so: $missing"
extra=$(LC_ALL=C comm -23 "$tmp/exported_rc" "$tmp/declared" | tr '\n' ' ')
[ -z "$extra" ] || fail "exported by librcgc.so but declared in no public header (internal: make them local in runtime/rcgc.map): $extra"
echo "ok: librcgc.so exports the $(wc -l < "$tmp/declared") rc_* names of the public headers, nothing else"

# ---- README's program ----
mkdir "$tmp/prog"
awk '/^## Using the runtime$/ { s = 1; next }
     s == 1 && /^## /         { exit }
     s == 1 && /^```c$/       { s = 2; next }
     s == 2 && /^```/         { exit }
     s == 2                   { print }' "$src/README.md" > "$tmp/prog/prog.c"
[ -s "$tmp/prog/prog.c" ] || fail "no \`\`\`c block after '## Using the runtime' in $src/README.md"

# The program prints nothing itself: it exits 0 when its list append
# worked and rc_runtime_free found no object leaked.  Under RCGC_TRACE=1 the
# library prints one line per collection on stderr ("gc 2: 1 scanned, ..."),
# and rc_runtime_free runs full collections: those lines show the library
# ran; any other line is a failure.
check_prog() {   # how, program
  local how=$1 prog=$2 status=0
  RCGC_TRACE=1 "$prog" > "$tmp/out" 2> "$tmp/err" || status=$?
  if [ "$status" -ne 0 ] || [ -s "$tmp/out" ] || ! grep -q '^gc 2: .* scanned' "$tmp/err" ||
     grep -v '^gc [0-2]: ' "$tmp/err" > /dev/null; then
    echo "--- stdout:" >&2; cat "$tmp/out" >&2
    echo "--- stderr:" >&2; cat "$tmp/err" >&2
    fail "README's program built $how: exit status $status; expected 0, and no output but RCGC_TRACE's lines of its full collections ('gc 2: ...')"
  fi
  echo "ok: README's program built $how runs: exit status 0, $(grep -c '^gc 2: ' "$tmp/err") full collections traced"
}

# With pkg-config.
pc() { PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config "$@"; }
pc_version=$(pc --modversion rcgc) || fail "pkg-config does not find rcgc.pc in $libdir/pkgconfig"
[ "$pc_version" = "$version" ] || fail "rcgc.pc's version is '$pc_version', not $version"
pc_prefix=$(pc --variable=prefix rcgc)
[ "$pc_prefix" = "$prefix" ] || fail "rcgc.pc's prefix is '$pc_prefix', not $prefix"
flags=$(pc --cflags --libs rcgc) || fail "pkg-config --cflags --libs rcgc"
echo "== $cc prog.c $flags -Wl,-rpath,$libdir -o prog"
run "README's program does not build with pkg-config" \
    "$cc" "$tmp/prog/prog.c" $flags -Wl,-rpath,"$libdir" -o "$tmp/prog/prog"
resolved=$(ldd "$tmp/prog/prog" | awk '$1 == "librcgc.so.'"$major_minor"'" { print $3 }')
[ "$resolved" = "$libdir/librcgc.so.$major_minor" ] ||
  fail "the pkg-config build loads librcgc.so.$major_minor from '$resolved', not $libdir"
check_prog "with pkg-config" "$tmp/prog/prog"

# With find_package(rcgc): rcgc::rcgc, then rcgc::rcgc_static.
for target in rcgc rcgc_static; do
  dir=$tmp/cmake-$target
  mkdir "$dir"
  cp "$tmp/prog/prog.c" "$dir/"
  cat > "$dir/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.25)
project(prog C)
find_package(rcgc REQUIRED)
add_executable(prog prog.c)
target_link_libraries(prog PRIVATE rcgc::$target)
CMAKE
  echo "== find_package(rcgc), rcgc::$target"
  run "configuring a project that links rcgc::$target" \
      "$cmake" -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc"
  run "building a project that links rcgc::$target" "$cmake" --build "$dir/build"
  needed=" $(readelf -d "$dir/build/prog" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' | tr '\n' ' ')"
  if [ $target = rcgc ] && [[ "$needed" != *" librcgc.so.$major_minor "* ]]; then
    fail "prog linked with rcgc::rcgc does not need librcgc.so.$major_minor (NEEDED:$needed)"
  elif [ $target = rcgc_static ] && [[ "$needed" == *librcgc* ]]; then
    fail "prog linked with rcgc::rcgc_static needs a shared librcgc (NEEDED:$needed)"
  fi
  check_prog "with find_package(rcgc), rcgc::$target" "$dir/build/prog"
done
# ---- a workload library against the installed headers ----
# workloads/examples/lru_cache.c, built as README.md's "Your own workload"
# says (headers only, no -lrcgc), run by the installed rcgc through --load.
wl=$tmp/wl
mkdir "$wl"
cflags=$(pc --cflags rcgc)
echo "== $cc -shared -fPIC lru_cache.c $cflags -o lru_cache.so"
run "the example workload does not build against the installed headers" \
    "$cc" -std=c11 -Wall -Wextra -Werror -shared -fPIC -O2 "$src/workloads/examples/lru_cache.c" \
    $cflags -o "$wl/lru_cache.so"
needed=" $(readelf -d "$wl/lru_cache.so" | sed -n 's/.*(NEEDED).*\[\(.*\)\].*/\1/p' | tr '\n' ' ')"
[[ "$needed" != *librcgc* ]] || fail "lru_cache.so needs a librcgc of its own (NEEDED:$needed)"
(cd "$wl" && "$prefix/bin/rcgc" list --load lru_cache.so) > "$tmp/out" ||
  fail "installed rcgc list --load lru_cache.so failed"
grep -q '^lru-cache ' "$tmp/out" || fail "installed rcgc list --load does not list lru-cache"
(cd "$wl" && "$prefix/bin/rcgc" compare lru-cache --load lru_cache.so --quick --modes gil,ft \
   --collectors stw,concurrent) > "$tmp/out" 2>&1 || { cat "$tmp/out" >&2; fail "installed rcgc compare lru-cache failed"; }
n=$(grep -c ': verified: 20000 gets, .*nothing left' "$tmp/out") || true
[ "$n" -eq 4 ] || { cat "$tmp/out" >&2; fail "installed rcgc compare lru-cache: $n of 4 runs verified"; }
echo "ok: lru_cache.so built against the installed headers; the installed rcgc runs it through --load (4 runs verified)"

echo "install.package: all checks passed"
