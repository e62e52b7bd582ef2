#!/bin/sh
# run-fuzzer.sh TARGET SRCDIR BUILDDIR NAME: one bounded libFuzzer run, as
# the `fuzz` test suite does it (fuzz/meson.build).
#
# TICKHUB_FUZZ_SECONDS (default 30) bounds the run. TICKHUB_FUZZ_SEED
# (default 1) is libFuzzer's seed: a fixed one makes the gate repeatable
# (the same mutations in the same order; a faster machine only goes
# further); 0 draws a new one each run, for exploring. Seeds come from
# SRCDIR/corpus/NAME (read only); what the run finds new goes to
# BUILDDIR/corpus/NAME, crashing inputs to BUILDDIR/artifacts/. Any
# finding (crash, leak, sanitizer report, critical, timeout of an input)
# makes the exit status non-zero.
set -eu
target=$1 srcdir=$2 builddir=$3 name=$4
seconds=${TICKHUB_FUZZ_SECONDS:-30}
seed=${TICKHUB_FUZZ_SEED:-1}
mkdir -p "$builddir/corpus/$name" "$builddir/artifacts"
set -- -max_total_time="$seconds" -seed="$seed" -timeout=25 -rss_limit_mb=2048 -print_final_stats=1 -error_exitcode=1 \
       -artifact_prefix="$builddir/artifacts/$name-"
[ -f "$srcdir/dict/$name.dict" ] && set -- "$@" -dict="$srcdir/dict/$name.dict"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
exec "$target" "$@" "$builddir/corpus/$name" "$srcdir/corpus/$name"
