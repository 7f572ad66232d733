#!/bin/bash
# CI: a 2-task devicebench array on the one-node Slurm of ci-single-node.sh, then the fleet report.
#
#   bash deploy/slurm/ci-check.sh [PYTHON]      # PYTHON: an environment with the suite (default .nox/tests/bin/python)
#
# Runs deploy/slurm/submit.sh with the venv launcher: 2 array tasks, the CPU smoke profile's matmul
# cases, each task a host of its own (DEVICEBENCH_HOST=<node>-<task id>), then the report job.
# Prints every job's log and the fleet report, and fails unless both run folders, fleet.md,
# fleet.json and fleet.html exist and the report says what it should.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2

python="${1:-.nox/tests/bin/python}"
python="$(cd "$(dirname "$python")" && pwd)/$(basename "$python")" # absolute, but not resolved: it is a venv's link
if [ ! -x "$python" ]; then
    echo "ci-check.sh: no Python at $python (run nox -s tests first, or pass one)" >&2
    exit 2
fi
node="$(hostname -s)"
fleet_dir="$(mktemp -d "${TMPDIR:-/tmp}/devicebench-slurm-fleet.XXXXXX")"
submitted="$fleet_dir/submit.out"
start=$(date +%s)

FLEET_LAUNCHER=venv FLEET_PYTHON="$python" FLEET_SRC="$PWD" FLEET_HOST_PER_TASK=1 \
    timeout 900 bash deploy/slurm/submit.sh -n 2 --fleet-dir "$fleet_dir" --wait -- --devices cpu -k matmul \
    2>&1 | tee "$submitted"
status=${PIPESTATUS[0]}
elapsed=$(($(date +%s) - start))

if [ "$status" -eq 124 ]; then
    echo "ci-check.sh: the fleet did not finish in 900 s; queue and controller log:" >&2
    squeue -l || true
    tail -n 30 /var/log/slurm/slurmctld.log || true
    array_job="$(sed -n 's/^array job: *\([0-9]*\).*/\1/p' "$submitted")"
    [ -n "$array_job" ] && scancel "$array_job"
fi
for log in "$fleet_dir"/logs/*.out; do
    echo "===== $log"
    cat "$log"
done
echo "===== fleet.md"
cat "$fleet_dir/fleet.md" 2>/dev/null || echo "(missing)"
echo "===== slurm array: 2 tasks, CPU smoke -k matmul, report exit $status, wall time ${elapsed} s"

"$python" - "$fleet_dir" "$node" "$status" <<'EOF'
import json
import sys
from pathlib import Path

fleet_dir, node, status = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
problems = []
hosts = [f"{node}-0", f"{node}-1"]
recorded = []
for host in hosts:
    runs = [p for p in (fleet_dir / host).glob("*/benchmarks.json") if not p.parent.is_symlink()]
    if not runs:
        problems.append(f"no run folder under {fleet_dir / host}")
        continue
    print(f"run folder: {runs[0].parent}")
    info = json.loads(runs[0].read_text())["machine_info"]
    recorded.append((info.get("devicebench") or {}).get("host") or info.get("node"))  # the run's host as recorded
for name in ("fleet.md", "fleet.json", "fleet.html"):
    if not (fleet_dir / name).is_file():
        problems.append(f"no {name} in {fleet_dir}")
if not problems:
    report = json.loads((fleet_dir / "fleet.json").read_text())
    if recorded == hosts:  # the runs recorded DEVICEBENCH_HOST: two hosts, too few to judge (exit 2), none missing
        if report["hosts"] != hosts or report["missing_count"] != 0 or status != 2:
            problems.append(f"expected hosts {hosts}, none missing, exit 2 (nothing judged); got {report['hosts']}, "
                            f"{report['missing_count']} missing, exit {status}")
    else:  # this bench does not record DEVICEBENCH_HOST yet: both runs are one host, the other is missing
        print(f"warning: the runs recorded hosts {recorded}, not {hosts}: DEVICEBENCH_HOST is not honoured yet")
        if len(report["hosts"]) != 1 or report["missing_count"] != 1 or status != 1:
            problems.append(f"expected 1 host and 1 missing (exit 1); got {report['hosts']}, "
                            f"{report['missing_count']} missing, exit {status}")
for problem in problems:
    print(f"ci-check.sh: {problem}", file=sys.stderr)
sys.exit(1 if problems else 0)
EOF
