#!/bin/sh
# devicebench container entrypoint: run the benchmarks, print the summary, build the report.
#
#   docker run --rm -v "$PWD/results:/results" devicebench:cpu [pytest arguments]
#
# Every argument goes to pytest after the defaults, so it overrides them
# (--profile full, --devices GPU:0, -k matmul, ...). The report is built from
# whatever the run measured, even when benchmarks failed or the run was stopped
# (docker stop: SIGTERM; give it time for the report, e.g. docker stop -t 60). The exit
# status is the benchmarks' status (2: stopped), 1 when no case was measured, or the
# report's when the benchmarks passed.
set -u

results="${DEVICEBENCH_RESULTS:-/results}"
src="${DEVICEBENCH_SRC:-/opt/devicebench}"
python="${DEVICEBENCH_PYTHON:-python3}"

if ! mkdir -p "$results" 2>/dev/null || [ ! -w "$results" ]; then
    echo "devicebench: $results is not writable by uid $(id -u):" \
        "run with --user \"\$(id -u):\$(id -g)\" or make the mounted folder writable" >&2
    exit 2
fi

# `python -m bench run` (bench/run_cmd.py) runs pytest, then the summary and report of the run it made.
# exec: it becomes PID 1, and passes docker stop's SIGTERM (and SIGINT, SIGHUP) on to pytest, so a stopped
# run ends `interrupted` with what it measured, and still gets its summary and report.html.
exec "$python" -m bench run --suite "$src/bench" --results-dir "$results" \
    --profile "${DEVICEBENCH_PROFILE:-smoke}" -p no:cacheprovider "$@"
