#!/bin/sh
# The suite's torch path on a GPU host that has python3 with torch but no TensorFlow and no nox.
#
#   tools/gpu-check.sh OUT_DIR [pytest arguments ...]
#
# Runs `python3 -m pytest bench --backend torch --profile $PROFILE` (default: standard) with the run folder
# under OUT_DIR/results, prints the summary, builds the report, and collects into OUT_DIR: benchmarks.json,
# nvml.csv, report.html, report.csv, summary.txt, gpu-check.log and facts.txt (nvidia-smi, versions) —
# at most 8 files, none larger than the run makes. Extra arguments go to pytest (e.g. -k "not mnist").
# Needs: python3 with torch, pytest, pytest-benchmark, pandas, seaborn, matplotlib, jinja2, scipy, rich,
# py-cpuinfo, nvidia-ml-py and pydantic (PYTHONPATH may point at extra packages). Exit status: pytest's,
# or 1 when no run folder was made.
set -u

out="${1:?usage: tools/gpu-check.sh OUT_DIR [pytest arguments ...]}"
shift
python="${PYTHON:-python3}"
profile="${PROFILE:-standard}"
here="$(cd "$(dirname "$0")/.." && pwd)"
mkdir -p "$out" || exit 2
log="$out/gpu-check.log"
path_file="$out/.run-path"
rm -f "$path_file"

{
    echo "## devicebench GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit,pcie.link.gen.max,pcie.link.width.max \
        --format=csv 2>&1 || echo "nvidia-smi: not available"
    "$python" - <<'EOF' 2>&1
import importlib, platform
print("python", platform.python_version())
for name in ("torch", "pytest", "pytest_benchmark", "pydantic", "pandas", "seaborn", "pynvml"):
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
{
    PYTHONUNBUFFERED=1 "$python" -m pytest bench --backend torch --profile "$profile" \
        --results-dir "$out/results" --run-path-file "$path_file" -p no:cacheprovider "$@"
    echo $? > "$out/.status"
} 2>&1 | tee "$log"
status="$(cat "$out/.status" 2>/dev/null || echo 1)"
rm -f "$out/.status"
if [ ! -s "$path_file" ]; then
    echo "gpu-check: no run folder was made (see $log)" | tee -a "$log"
    exit 1
fi
run="$(cat "$path_file")"
"$python" -m reports summary "$run" > "$out/summary.txt" 2>&1
cat "$out/summary.txt"
"$python" -m reports "$run" 2>&1 | tee -a "$log"
for f in benchmarks.json nvml.csv report.html report.csv; do
    [ -f "$run/$f" ] && cp "$run/$f" "$out/$f"
done
rm -f "$path_file"
ls -l "$out"
exit "$status"
