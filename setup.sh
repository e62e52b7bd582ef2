#!/bin/bash
# tickhub's one entry point for a fresh Debian 12 machine.
#
#   ./setup.sh daemon [tickhubd options]   install what is missing, build, run tickhubd
#                                          (with no options: the shipped config, real
#                                          venues; add --demo for the offline simulator)
#   ./setup.sh test                        install what is missing, build with -Werror,
#                                          run the whole suite, then again under
#                                          AddressSanitizer + UndefinedBehaviorSanitizer,
#                                          then each libFuzzer target (fuzz/) for
#                                          TICKHUB_FUZZ_SECONDS (default 30) under both
#   ./setup.sh deps                        only install the packages
#   ./setup.sh build                       only build (in ./build)
#
# Packages are installed with apt-get (through sudo when not root).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"

# Build and run time (docs/platform.md): keep this list the one place that says
# what tickhub needs.
packages=(
  gcc libc6-dev meson ninja-build pkg-config glib-networking ca-certificates
  libglib2.0-dev libglib2.0-bin gobject-introspection libgirepository1.0-dev
  libsoup-3.0-dev libjson-glib-dev libpeas-dev libgjs-dev gjs libsqlite3-dev
  python3-gi gir1.2-json-1.0 gir1.2-soup-3.0 dbus-daemon
  valac gi-docgen
  clang-14 libclang-rt-14-dev   # the fuzz targets (fuzz/): clang, libFuzzer's runtime
  tzdata    # market hours (data/market-hours.conf) are in America/New_York
  systemd   # systemd-analyze checks the shipped units in the tests (not run as init)
  python3-socketio python3-websocket python3-requests
  redis-server libhiredis-dev   # the redis plugin (many nodes) and its tests
  openssl   # the redis TLS test makes its CA and server certificate at test time
  nginx-light haproxy   # docs/deploy.md examples, checked in the tests
  chromium   # the dashboard's browser tests (tests/js/test-dashboard.mjs, headless)
)

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
  local missing=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "all packages present"
    return
  fi
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# `npm ci` in DIR from its committed lockfile when node_modules is missing
# or older than it.
npm_ci() {
  if [ ! -d "$1/node_modules" ] || [ "$1/package-lock.json" -nt "$1/node_modules" ]; then
    log "npm ci in $1"
    (cd "$1" && npm ci --no-audit --no-fund)
    touch "$1/node_modules"
  fi
}

# The dashboard's chart library and API reference viewer (data/dashboard:
# lightweight-charts, swagger-ui-dist; its postinstall copies the files
# served into data/dashboard/vendor/), and the npm clients of the tests
# (tests/js: socket.io-client, playwright-core): node from Debian when
# there is none, then `npm ci` from the committed lockfiles.
js_deps() {
  if ! command -v node >/dev/null; then
    log "installing nodejs and npm"
    export DEBIAN_FRONTEND=noninteractive
    as_root apt-get update -qq
    as_root apt-get install -y -qq --no-install-recommends nodejs npm
  fi
  npm_ci data/dashboard
  [ "${1:-}" = tests ] && npm_ci tests/js
  return 0
}

# build DIR [meson options]
build() {
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir"
    meson setup "$dir" "$@"
  elif [ $# -gt 0 ]; then
    meson configure "$dir" "$@"
  fi
  log "building $dir"
  ninja -C "$dir"
}

summary() {
  local passed=0 failed=0 skipped=0 r
  for log in "$@"; do
    [ -f "$log" ] || { failed=$((failed + 1)); continue; }
    while read -r r; do
      case "$r" in
        OK|EXPECTEDFAIL) passed=$((passed + 1)) ;;
        SKIP) skipped=$((skipped + 1)) ;;
        *) failed=$((failed + 1)) ;;
      esac
    done < <(grep -ao '"result": *"[A-Z]*"' "$log" | sed 's/.*"\([A-Z]*\)"$/\1/')
  done
  echo "$passed passed, $failed failed, $skipped skipped"
}

run_suite() {
  local dir=$1; shift
  log "testing $dir"
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@"
}

cmd=${1:-help}
[ $# -gt 0 ] && shift

case "$cmd" in
  deps)
    deps
    ;;
  build)
    deps
    js_deps
    build build
    ;;
  daemon)
    deps
    js_deps
    build build
    log "starting tickhubd $* (Ctrl-C stops it)"
    exec meson devenv -C build tickhubd "$@"
    ;;
  test)
    deps
    js_deps tests
    # The real Socket.IO clients are installed now: missing is a failure.
    export TICKHUB_TEST_REQUIRE_CLIENTS=1
    status=0
    build build -Dwerror=true
    run_suite build || status=1
    # ASan + UBSan: a leak or undefined behaviour fails the suite.
    build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
      run_suite build-asan || status=1
    # The libFuzzer targets (fuzz/README.md), clang + ASan + UBSan, each for
    # TICKHUB_FUZZ_SECONDS from its committed corpus: a crash, a leak, a
    # sanitizer report, a critical or a hang fails its test.
    CC=clang-14 build build-fuzz -Dfuzzing=true -Db_sanitize=address,undefined -Db_lundef=false
    run_suite build-fuzz --suite fuzz || status=1
    # One closing line for the three runs, counted from meson's own logs.
    summary build/meson-logs/testlog.json build-asan/meson-logs/testlog.json \
      build-fuzz/meson-logs/testlog.json
    exit $status
    ;;
  help|-h|--help)
    sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
    ;;
  *)
    echo "setup.sh: unknown command “$cmd”; try ./setup.sh help" >&2
    exit 2
    ;;
esac
