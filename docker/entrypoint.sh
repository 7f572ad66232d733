#!/bin/sh
# devicebench container entrypoint: run the benchmarks, print the summary, build the report.
#
#   docker run --rm -v "$PWD/results:/results" devicebench:cpu [pytest arguments]
#
# Every argument goes to pytest after the defaults, so it overrides them
# (--profile full, --devices GPU:0, -k matmul, ...). The report is built from
# whatever the run measured, even when benchmarks failed. The exit status is the
# benchmarks' status, or the report's when the benchmarks passed.
set -u

results="${DEVICEBENCH_RESULTS:-/results}"
src="${DEVICEBENCH_SRC:-/opt/devicebench}"
python="${DEVICEBENCH_PYTHON:-python3}"

if ! mkdir -p "$results" 2>/dev/null || [ ! -w "$results" ]; then
    echo "devicebench: $results is not writable by uid $(id -u):" \
        "run with --user \"\$(id -u):\$(id -g)\" or make the mounted folder writable" >&2
    exit 2
fi

# pytest writes this run's folder into $path_file once its first case is saved, so the summary and
# report below are always of the run just made, never of an older one.
path_file="$(mktemp "${TMPDIR:-/tmp}/devicebench-run.XXXXXX")" && rm -f "$path_file"
"$python" -m pytest "$src/bench" --results-dir "$results" --run-path-file "$path_file" \
    --profile "${DEVICEBENCH_PROFILE:-smoke}" -p no:cacheprovider "$@"
bench_status=$?

if [ ! -s "$path_file" ]; then
    echo "devicebench: this run measured no case (pytest exited $bench_status); no report built" >&2
    if [ "$bench_status" -eq 0 ]; then exit 1; fi
    exit "$bench_status"
fi
run_dir="$(cat "$path_file")"
rm -f "$path_file"

# The findings and throughput tables on the terminal (informational), then report.html.
"$python" -m reports summary "$run_dir" || echo "devicebench: the summary failed (the report follows)" >&2
"$python" -m reports "$run_dir"
report_status=$?
if [ "$bench_status" -ne 0 ]; then
    exit "$bench_status"
fi
exit "$report_status"
