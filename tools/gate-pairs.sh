#!/bin/sh
# The regression gate on real pairs of runs (docs/gate.md, "After the merge"): back-to-back smoke runs of
# the CPU matmul cases, each pair judged with `python -m reports compare A B`.
#
#   sh tools/gate-pairs.sh OUT_DIR [PYTHON]        (from the repository root)
#
# 1. taskset A/B: a normal run, then one pinned to core 0 (`taskset -c 0`); compared.
# 2. Five A/A pairs: two normal runs each (the same code); compared.
# 3. busy-loop A/B: a run pinned to core 0 while a busy loop also runs on core 0, compared with the
#    normal run of step 1: a real slowdown the gate should flag.
# Prints the load (uptime) before and after, each comparison's exit code and its n = 128/512/1024 rows
# (for the A/A pairs the first line and any regression or improvement row). A compare that exits 1 does
# not stop the script. OUT_DIR (new or empty) gets one results folder per run (NAME/), its pytest log
# (NAME.log) and run folder path (NAME.path), and each comparison's Markdown (ab.md, aa1.md ... aa5.md,
# ab-hog.md; stderr in .err) and JSON (.json).
# PYTHON (default python3) must have the suite and TensorFlow installed (e.g. .nox/tests/bin/python);
# needs taskset (util-linux) and at least 2 CPU cores. About 2 minutes on the 2-core development VM
# (13 runs of 7-9 s each, idle machine); longer under load. Exit status: 0 when every run measured its
# cases (whatever the comparisons said), 1 when a run failed, 2 on a usage error.
set -eu

usage="usage: sh tools/gate-pairs.sh OUT_DIR [PYTHON]   (from the repository root)"
if [ "$#" -lt 1 ] || [ "$#" -gt 2 ]; then
    echo "$usage" >&2
    exit 2
fi
out="$1"
python="${2:-python3}"
if [ ! -f bench/conftest.py ] || [ ! -d reports ]; then
    echo "gate-pairs: run from the repository root; $usage" >&2
    exit 2
fi
if ! command -v taskset >/dev/null 2>&1; then
    echo "gate-pairs: taskset not found (util-linux)" >&2
    exit 2
fi
if [ -e "$out" ] && [ -n "$(ls -A "$out")" ]; then
    echo "gate-pairs: $out is not empty: give a new folder" >&2
    exit 2
fi
mkdir -p "$out"

hog=""
stop_hog() {
    if [ -n "$hog" ]; then
        kill "$hog" 2>/dev/null || true
        wait "$hog" 2>/dev/null || true
        hog=""
    fi
}
trap stop_hog EXIT
trap 'stop_hog; exit 130' INT
trap 'stop_hog; exit 143' TERM

# run NAME [command prefix ...]: one smoke run of the CPU matmul cases into $out/NAME
run() {
    name="$1"
    shift
    status=0
    "$@" "$python" -m pytest bench --profile smoke --devices cpu -k matmul -p no:cacheprovider -q \
        --results-dir "$out/$name" --run-path-file "$out/$name.path" >"$out/$name.log" 2>&1 || status=$?
    if [ "$status" -ne 0 ] || [ ! -s "$out/$name.path" ]; then
        echo "gate-pairs: run $name failed (pytest exited $status): see $out/$name.log" >&2
        exit 1
    fi
}

# compare NAME BASE CURRENT: the gate on two runs; its exit code in $code
compare() {
    code=0
    "$python" -m reports compare "$(cat "$out/$2.path")" "$(cat "$out/$3.path")" --json "$out/$1.json" \
        >"$out/$1.md" 2>"$out/$1.err" || code=$?
}

rows() {
    grep -E "n1024|n512|n128" "$1" || true
}

uptime
run ab-normal
run ab-pinned taskset -c 0
compare ab ab-normal ab-pinned
echo "taskset A/B exit $code"
rows "$out/ab.md"
for i in 1 2 3 4 5; do
    run "aa$i-a"
    run "aa$i-b"
    compare "aa$i" "aa$i-a" "aa$i-b"
    echo "A/A pair $i exit $code: $(grep -m1 'devicebench compare' "$out/aa$i.md" || true)"
    { grep -E "^\| (🔴|🟢)" "$out/aa$i.md" || true; } | cut -c1-200
done
taskset -c 0 sh -c 'while :; do :; done' &
hog=$!
run ab-hog taskset -c 0
stop_hog
compare ab-hog ab-normal ab-hog
echo "busy-loop A/B exit $code"
rows "$out/ab-hog.md"
uptime
