#!/usr/bin/env bash
# Fuzz lookout's parsers with cargo-fuzz (libFuzzer + AddressSanitizer): the query parser
# (parse_query), the query planner with percolation and explanation (plan_query), the phrase
# matcher against its plain definition (phrase_matcher), each extractor (.txt .md .html .json
# .jsonl) and the analyzer. Targets live in fuzz/fuzz_targets/.
#
# plan_query and phrase_matcher also have a time budget per input, checked by the target itself
# against the input's size: a slow input (work that grows faster than linearly) is a finding,
# reported as a crash whose message starts with "slow input". plan_query runs with
# -max_len=65536 so that growth shows.
#
# NOT part of CI: it takes minutes (about 10 to build the instrumented targets the first time,
# then SECONDS per target), so .ci/run does not call it. Run it by hand before a release or after
# touching a parser:
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    # SECONDS per target, default 60; default all targets
#
# Works on a stable toolchain: cargo-fuzz needs nightly-only rustc flags (-Zsanitizer=address,
# SanitizerCoverage), which stable rustc accepts when RUSTC_BOOTSTRAP=1 is set. Installs cargo-fuzz
# from crates.io if it is missing. Environment: FUZZ_TIMEOUT (seconds one input may take before it
# counts as a hang, default 10), FUZZ_RSS_LIMIT_MB (default 2048), FUZZ_ARGS (more libFuzzer
# flags, e.g. FUZZ_ARGS='-max_len=65536' to try the large inputs that quadratic parsers need).
#
# Prints one summary line per target (target, runs executed, exec/s, result) and exits non-zero if
# any target found a crash, a timeout (slow input) or ran out of memory. Findings are written to
# fuzz/artifacts/<target>/ (crash-*, timeout-*, oom-*); reproduce one with
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -a <target> fuzz/artifacts/<target>/<file>
# and shrink it with
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin -a <target> fuzz/artifacts/<target>/<file>
# Inputs that grow coverage are kept in fuzz/corpus/<target>/ (git-ignored; only seed-* files
# there are tracked). Full libFuzzer logs: fuzz/artifacts/logs/<target>.log.
set -euo pipefail

seconds="${1:-60}"
shift || true
case "$seconds" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS] [TARGET...]" >&2; exit 2 ;;
esac
timeout_s="${FUZZ_TIMEOUT:-10}"
rss_mb="${FUZZ_RSS_LIMIT_MB:-2048}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"

cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz from crates.io"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# -a: debug assertions on, so integer overflow and debug_assert! fire as in `cargo test`.
echo "== building ${#targets[@]} fuzz targets (first build takes several minutes)"
for target in "${targets[@]}"; do
    cargo fuzz build -a "$target"
done

logs=fuzz/artifacts/logs
mkdir -p "$logs"
failed=0
summary=()
for target in "${targets[@]}"; do
    log="$logs/$target.log"
    mkdir -p "fuzz/artifacts/$target" "fuzz/corpus/$target"
    echo "== fuzzing $target for ${seconds}s (log: $log)"
    target_args=()
    case "$target" in
        plan_query) target_args=(-max_len=65536) ;;
    esac
    set +e
    cargo fuzz run -a "$target" -- \
        -max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb="$rss_mb" \
        -print_final_stats=1 ${target_args[@]+"${target_args[@]}"} \
        ${extra_args[@]+"${extra_args[@]}"} >"$log" 2>&1
    rc=$?
    set -e
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$runs" ]; then
        # No final stats (the run stopped on a finding): the last progress line says how far.
        runs=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    fi
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    artifact=$(sed -n 's/.*Test unit written to \([^ ]*\).*/\1/p' "$log" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
        result="ok"
    else
        failed=1
        if grep -q 'ERROR: libFuzzer: timeout' "$log"; then
            result="TIMEOUT"
        elif grep -q 'slow input' "$log"; then
            result="SLOW INPUT"
        elif grep -q 'ERROR: libFuzzer: out-of-memory' "$log"; then
            result="OUT-OF-MEMORY"
        elif grep -q 'ERROR: libFuzzer: \|panicked at\|ERROR: AddressSanitizer' "$log"; then
            result="CRASH"
        else
            result="FAILED (exit $rc; see $log)"
        fi
        [ -n "$artifact" ] && result="$result: $artifact"
    fi
    line=$(printf '%-18s runs=%-10s exec/s=%-8s %s' "$target" "${runs:-?}" "${rate:-?}" "$result")
    summary+=("$line")
    echo "$line"
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
