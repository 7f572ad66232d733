#!/bin/sh
# The suite's torch path on a GPU host that has python3 with torch but no TensorFlow and no nox.
#
#   tools/gpu-check.sh OUT_DIR [pytest arguments ...]
#
# 1. The main run: `python3 -m pytest bench --backend torch --profile $PROFILE` (default standard) on every
#    device, TF32 off, extra arguments passed to pytest (e.g. -k "not scaling"); at most $MAIN_LIMIT seconds
#    (default 330): the run saves every finished case, so a run cut short keeps what it measured.
#    BENCH_FILES lists the benchmark files in the order to run them (default: bench, alphabetical).
# 2. The peak run (unless PEAKS=0): the largest matmuls of the full profile on the GPUs, TF32 off and on, at
#    most $PEAK_LIMIT seconds (default 90), for "% of the spec peak".
# Each run goes through `python -m bench run` (its own summary and report.html in its run folder).
# 3. The summary and one report of all runs.
# OUT_DIR gets at most 8 files: facts.txt (nvidia-smi, versions), gpu-check.log, summary.txt, report.html,
# benchmarks.json and nvml.csv (main run), peaks.json and peaks-tf32.json (peak runs). Run folders go to
# $RESULTS (default: a temporary folder). Needs python3 with torch, pytest, pytest-benchmark, pandas,
# seaborn, matplotlib, jinja2, scipy, rich, py-cpuinfo, nvidia-ml-py and pydantic (PYTHONPATH may point at
# extra packages). Exit status: the main run's `bench run` status (124 when cut at its limit), 1 if it
# measured nothing.
set -u

out="${1:?usage: tools/gpu-check.sh OUT_DIR [pytest arguments ...]}"
shift
python="${PYTHON:-python3}"
profile="${PROFILE:-standard}"
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out" || exit 2
out="$(cd "$out" && pwd)"
results="${RESULTS:-$(mktemp -d "${TMPDIR:-/tmp}/devicebench-gpu-check.XXXXXX")}"
log="$out/gpu-check.log"

{
    echo "## devicebench GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,pcie.link.gen.max,pcie.link.width.max \
        --format=csv 2>&1 || echo "nvidia-smi: not available"
    "$python" - <<'EOF' 2>&1
import importlib, platform
print("python", platform.python_version())
for name in ("torch", "torchvision", "pytest", "pytest_benchmark", "pydantic", "pandas", "seaborn", "pynvml"):
    try:
        module = importlib.import_module(name)
        print(name, getattr(module, "__version__", "?"))
    except Exception as exc:
        print(name, "MISSING:", exc)
try:
    import torch
    print("cuda", torch.version.cuda, "available", torch.cuda.is_available(), "devices", torch.cuda.device_count())
except Exception as exc:
    print("torch cuda check failed:", exc)
EOF
} > "$out/facts.txt"
cat "$out/facts.txt"

cd "$here" || exit 2
# pytest PASS_NAME LIMIT_S PATH_FILE [pytest arguments]: one run, cut at its limit, its status in $status
run_pass() {
    name="$1" limit="$2" path_file="$3"
    shift 3
    rm -f "$path_file"
    echo "## $name run: python3 -m bench run --backend torch $* (at most ${limit} s)"
    suites=""
    for file in ${BENCH_FILES:-bench}; do suites="$suites --suite $file"; done
    # bench run: pytest, then this run's summary and report.html; the limit's SIGINT goes on to pytest, which
    # stops as interrupted and keeps what it measured; -k 30 leaves time for the report
    # shellcheck disable=SC2086  # BENCH_FILES is a list of paths, in the order they should run
    PYTHONUNBUFFERED=1 timeout -s INT -k 30 "$limit" "$python" -m bench run $suites -p no:cacheprovider \
        --backend torch --results-dir "$results/$name" --run-path-file "$path_file" "$@"
    status=$?
    echo "## $name run: pytest exited $status"
}

{
    run_pass main "${MAIN_LIMIT:-330}" "$results/main.path" --profile "$profile" --tf32 off "$@"
    echo "$status" > "$results/main.status"
    if [ "${PEAKS:-1}" = 1 ]; then
        biggest='matmul and (n8192 or n16384)'
        run_pass peaks "${PEAK_LIMIT:-90}" "$results/peaks.path" --profile full --devices gpu --tf32 off -k "$biggest"
        run_pass peaks-tf32 "${PEAK_LIMIT:-90}" "$results/peaks-tf32.path" --profile full --devices gpu \
            --tf32 on -k "$biggest and float32"
    fi
} 2>&1 | tee "$log"
main_status="$(cat "$results/main.status" 2>/dev/null || echo 1)"

if [ ! -s "$results/main.path" ]; then
    echo "gpu-check: the main run measured nothing (see $log)" | tee -a "$log"
    exit 1
fi
main="$(cat "$results/main.path")"
runs="$main"
for name in peaks peaks-tf32; do
    if [ -s "$results/$name.path" ]; then
        run="$(cat "$results/$name.path")"
        runs="$runs $run"
        cp "$run/benchmarks.json" "$out/$name.json"
    fi
done
# shellcheck disable=SC2086  # the run folders are one word each
"$python" -m reports summary $runs > "$out/summary.txt" 2>&1
cat "$out/summary.txt"
# shellcheck disable=SC2086
"$python" -m reports $runs -o "$out/report.html" 2>&1 | tee -a "$log"
rm -f "$out/report.csv"
cp "$main/benchmarks.json" "$out/benchmarks.json"
[ -f "$main/nvml.csv" ] && cp "$main/nvml.csv" "$out/nvml.csv"
ls -l "$out"
exit "$main_status"
