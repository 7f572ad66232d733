#!/bin/bash
# Submit a devicebench fleet run to Slurm: the array (one exclusive task per node), then the fleet report.
#
#   deploy/slurm/submit.sh (-n TASKS | --hosts FILE) [--fleet-dir DIR] [--wait] [SBATCH OPTION...] [-- PYTEST ARG...]
#
#   -n TASKS        how many nodes to run on (array tasks 0..TASKS-1); the report expects TASKS hosts
#   --hosts FILE    the nodes you expect, one per line: TASKS is their number, and the report names
#                   those without a run (Slurm places the tasks: choose the nodes with --partition etc.)
#   --fleet-dir DIR where the runs go, on storage all nodes share (default: results/fleet-<UTC stamp>)
#   --wait          wait for the report and exit with its code (0 healthy, 1 slow or missing, 2 bad input or nothing judged)
#   SBATCH OPTION   for the array, e.g. --partition=gpu --gpus-per-node=8 --time=02:00:00 --account=...
#   PYTEST ARG      for each run, e.g. --profile standard -k matmul
#
# FLEET_LAUNCHER (apptainer, docker or venv) and its settings are read by the two sbatch scripts
# beside this one (see fleet.sbatch); sbatch hands the environment on. Logs go to DIR/logs/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage="usage: $0 (-n TASKS | --hosts FILE) [--fleet-dir DIR] [--wait] [SBATCH OPTION...] [-- PYTEST ARG...]"
tasks=""
hosts_file=""
fleet_dir=""
wait=()
array_options=()
while [ "$#" -gt 0 ]; do
    case "$1" in
    -n) tasks="${2:?$usage}"; shift 2 ;;
    --hosts) hosts_file="${2:?$usage}"; shift 2 ;;
    --fleet-dir) fleet_dir="${2:?$usage}"; shift 2 ;;
    --wait) wait=(--wait); shift ;;
    --) shift; break ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) array_options+=("$1"); shift ;;
    esac
done
pytest_args=("$@")

if [ -n "$hosts_file" ]; then
    if [ ! -r "$hosts_file" ]; then
        echo "error: $hosts_file: cannot read the hosts file" >&2
        exit 2
    fi
    hosts_file="$(cd "$(dirname "$hosts_file")" && pwd)/$(basename "$hosts_file")"
    tasks="$(sed 's/#.*//' "$hosts_file" | grep -c '[^[:space:]]' || true)"
    expect=(--hosts-file "$hosts_file")
else
    expect=(--expect-hosts "$tasks")
fi
if ! [[ "$tasks" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: give -n TASKS (a positive number) or a --hosts FILE that names hosts; $usage" >&2
    exit 2
fi
fleet_dir="${fleet_dir:-results/fleet-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$fleet_dir/logs"
fleet_dir="$(cd "$fleet_dir" && pwd)"

array_job="$(sbatch --parsable --array="0-$((tasks - 1))" --output="$fleet_dir/logs/fleet-%A_%a.out" \
    "${array_options[@]}" "$here/fleet.sbatch" "$fleet_dir" "${pytest_args[@]}")"
array_job="${array_job%%;*}" # --parsable prints "id[;cluster]"
echo "fleet folder: $fleet_dir"
echo "array job:    $array_job ($tasks task(s), logs in $fleet_dir/logs/)"
report_options=(--parsable --dependency="afterany:$array_job" --output="$fleet_dir/logs/fleet-report-%j.out")
if [ "${#wait[@]}" -eq 0 ]; then
    report_job="$(sbatch "${report_options[@]}" "$here/fleet-report.sbatch" "$fleet_dir" "${expect[@]}")"
    echo "report job:   ${report_job%%;*} (after the array: $fleet_dir/fleet.md, fleet.json, fleet.html)"
    exit 0
fi
echo "report job:   queued after the array; waiting for it ..."
set +e
sbatch "${report_options[@]}" --wait "$here/fleet-report.sbatch" "$fleet_dir" "${expect[@]}" >/dev/null
status=$?
echo "fleet report: exit $status (0 healthy, 1 slow or missing host, 2 bad input or nothing judged); $fleet_dir/fleet.md"
exit "$status"
