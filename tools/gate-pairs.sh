#!/bin/sh
# The regression gate on real runs (docs/gate.md, "The gate across runs, for real"): back-to-back smoke runs of
# the CPU matmul cases, judged with `python -m reports compare`.
#
#   sh tools/gate-pairs.sh OUT_DIR [PYTHON]        (from the repository root)
#
# 1. Ten normal runs (the same code), in five pairs; the first run of each pair goes into a baseline
#    window ($OUT_DIR/window/, five runs, as --save-baseline keeps it).
# 2. Five A/A pairs: run against run, with the window as --history (the between-run noise it shows).
# 3. The window against the sixth run of the same code (the second run of pair 5).
# 4. taskset A/B: a normal run (ab-normal) then a run pinned to core 0 (`taskset -c 0`): the pinned run
#    against the window, and against the normal run just before it (run against run, --history window).
# 5. busy-loop A/B: a run pinned to core 0 while a busy loop also runs on core 0 (a real slowdown the gate
#    should flag), against the window and against ab-normal (run against run, --history window).
# Prints the load (uptime) before and after, each comparison's exit code and its n = 128/512/1024 rows
# (for the A/A pairs the first line and any regression or improvement row), and for the run-against-run
# pairs each case's verdict on the two runs' rounds alone (the within-run rule, kept in the row's note). A compare that exits 1 does
# not stop the script. OUT_DIR (new or empty) gets one results folder per run (NAME/), its pytest log
# (NAME.log) and run folder path (NAME.path), and each comparison's Markdown (aa1.md ... aa5.md, sixth.md,
# ab.md, ab-pair.md, ab-hog.md, ab-hog-pair.md; stderr in .err) and JSON (.json).
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

# compare NAME BASE CURRENT [options]: the gate on two sides (run names or paths); its exit code in $code
compare() {
    name="$1"
    base="$2"
    cur="$3"
    shift 3
    [ -e "$out/$base.path" ] && base="$(cat "$out/$base.path")"
    [ -e "$out/$cur.path" ] && cur="$(cat "$out/$cur.path")"
    code=0
    "$python" -m reports compare "$base" "$cur" --json "$out/$name.json" "$@" \
        >"$out/$name.md" 2>"$out/$name.err" || code=$?
}

rows() {
    grep -E "n1024|n512|n128" "$1" || true
}

# within FILE: each case's verdict on the two runs' rounds alone (the within-run rule, kept in each row's note)
within() {
    line="  within runs alone:"
    for n in n128 n512 n1024; do
        v="$(grep -E "$n-" "$1" | grep -o "within runs alone: [a-z-]*" | head -n1 | cut -d' ' -f4)"
        line="$line $n ${v:-none}"
    done
    echo "$line"
}

uptime
for i in 1 2 3 4 5; do
    run "aa$i-a"
    run "aa$i-b"
done
mkdir -p "$out/window"
for i in 1 2 3 4 5; do
    cp -r "$(cat "$out/aa$i-a.path")" "$out/window/"
done
for i in 1 2 3 4 5; do
    compare "aa$i" "aa$i-a" "aa$i-b" --history "$out/window"
    echo "A/A pair $i exit $code: $(grep -m1 'devicebench compare' "$out/aa$i.md" || true)"
    { grep -E "^\| (🔴|🟢)" "$out/aa$i.md" || true; } | cut -c1-200
    within "$out/aa$i.md"
done
compare sixth "$out/window" aa5-b
echo "window of 5 runs against a sixth run exit $code"
rows "$out/sixth.md" | cut -c1-260
run ab-normal
run ab-pinned taskset -c 0
compare ab "$out/window" ab-pinned
echo "taskset A/B, window against the pinned run, exit $code"
rows "$out/ab.md" | cut -c1-260
compare ab-pair ab-normal ab-pinned --history "$out/window"
echo "taskset A/B, run against run, exit $code"
rows "$out/ab-pair.md" | cut -c1-260
within "$out/ab-pair.md"
taskset -c 0 sh -c 'while :; do :; done' &
hog=$!
run ab-hog taskset -c 0
stop_hog
compare ab-hog "$out/window" ab-hog
echo "busy-loop A/B, window against the slowed run, exit $code"
rows "$out/ab-hog.md" | cut -c1-260
compare ab-hog-pair ab-normal ab-hog --history "$out/window"
echo "busy-loop A/B, run against run, exit $code"
rows "$out/ab-hog-pair.md" | cut -c1-260
within "$out/ab-hog-pair.md"
uptime
