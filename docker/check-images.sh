#!/bin/sh
# Build both images with buildah (no Docker daemon, no registry) and smoke-run the CPU one.
#
#   docker/check-images.sh [pytest arguments for the smoke run]     (as root, from the repo root)
#
# 1. a local Debian bookworm base (docker/make-base.sh, cached under .nox/container-cache)
# 2. Dockerfile.cpu built on it with `buildah bud --isolation chroot`
# 3. the image's entrypoint run as the image's non-root user, without network, with /results
#    mounted; benchmarks.json and report.html must come out; then docker stop's path: SIGTERM to the
#    entrypoint as PID 1 of a PID namespace after the first case: the run must end `interrupted`
#    (exit 2) with its report
# 4. Dockerfile.gpu built on the same base with TF_PACKAGE=tensorflow-cpu (every step but CUDA),
#    then its user, its GPU environment and its installed suite checked
# Prints the wall time and the image sizes. What it cannot check: the nvidia/cuda base itself,
# tensorflow[and-cuda], and `docker run --gpus` (no GPU, no Docker daemon, no Docker Hub here).
set -eu

start="$(date +%s)"
base="${DEVICEBENCH_BASE_TAG:-localhost/devicebench-base:bookworm}"
cpu_tag="localhost/devicebench:cpu-check"
gpu_tag="localhost/devicebench:gpu-check"
run_user="10001"
work="$(mktemp -d "${TMPDIR:-/tmp}/devicebench-check.XXXXXX")"
ctr=""

cleanup() {
    if [ -n "$ctr" ]; then
        buildah rm "$ctr" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

step() {
    echo "== [$(($(date +%s) - start))s] $*"
}

fail() {
    echo "container check: $*" >&2
    exit 1
}

step "base image $base"
sh docker/make-base.sh "$base"

# --layers keeps each step's layer, so a re-run rebuilds only what changed.
step "buildah bud -f Dockerfile.cpu"
buildah bud --isolation chroot --layers \
    --build-arg BASE_IMAGE="$base" --build-arg IMAGE_TAG="$cpu_tag" \
    -f Dockerfile.cpu -t "$cpu_tag" .

step "smoke run of $cpu_tag as its own user, no network"
results="$work/results"
mkdir -p "$results"
chown "$run_user:$run_user" "$results"
ctr="$(buildah from --quiet "$cpu_tag")"
# buildah run would mount a fresh volume over the image's VOLUME /results, hiding --volume:
# drop the declaration from this working container (not from the image).
buildah config --volume /results- "$ctr"
uid="$(buildah run --isolation chroot "$ctr" -- id -u)"
[ "$uid" = "$run_user" ] || fail "the image runs as uid $uid, not $run_user"
# unshare -n: the run gets a network namespace of its own with no interfaces (nothing downloads).
status=0
unshare --net buildah run --isolation chroot --volume "$results:/results:rw" "$ctr" -- \
    /usr/local/bin/devicebench-entrypoint --profile smoke "$@" || status=$?
[ "$status" -eq 0 ] || fail "the smoke run exited $status"
[ -s "$results/latest/benchmarks.json" ] || fail "no results/latest/benchmarks.json"
[ -s "$results/latest/report.html" ] || fail "no results/latest/report.html"
python3 - "$results/latest/benchmarks.json" "$cpu_tag" <<'EOF'
import json, re, sys

data = json.load(open(sys.argv[1]))
benchmarks = data["benchmarks"]
assert benchmarks, "benchmarks.json holds no benchmarks"
run = data["devicebench"]["run"]
# the schema this checkout writes, read from its source (the image's python is not this one)
expected = int(re.search(r"^SCHEMA_VERSION = (\d+)", open("results_format/model.py").read(), re.M).group(1))
version = data["devicebench"]["schema_version"]
assert version == expected, f"the image wrote results schema {version}, this checkout writes {expected}"
assert run["complete"], f"the run is not complete: {run}"
image = data["machine_info"].get("devicebench", {}).get("container_image")
assert image == sys.argv[2], f"machine_info.devicebench.container_image is {image!r}, not {sys.argv[2]!r}"
print(f"smoke run: {len(benchmarks)} benchmarks, container_image {image}")
EOF
owner="$(stat -c %u "$results/latest/benchmarks.json")"
[ "$owner" = "$run_user" ] || fail "benchmarks.json is owned by uid $owner, not $run_user"
ls -l "$results/latest/"
buildah rm "$ctr" >/dev/null
ctr=""

# docker stop's path: SIGTERM from outside to the entrypoint as PID 1 of its PID namespace (which ignores
# any signal it has no handler for), after the first case is saved. buildah's chroot isolation makes no
# PID namespace: root in the container makes one (unshare, hence CAP_SYS_ADMIN), then the image's user runs.
step "docker stop of $cpu_tag: SIGTERM to the entrypoint as PID 1 after the first case"
stopped="$work/stopped"
mkdir -p "$stopped"
chown "$run_user:$run_user" "$stopped"
ctr="$(buildah from --quiet "$cpu_tag")"
buildah config --volume /results- "$ctr"
status=0
unshare --net buildah run --isolation chroot --user 0:0 --cap-add CAP_SYS_ADMIN \
    --volume "$stopped:/results:rw" "$ctr" -- sh -u -c '
    unshare --pid --fork --mount-proc setpriv --reuid 10001 --regid 10001 --clear-groups \
        /usr/local/bin/devicebench-entrypoint --profile smoke &
    outer=$!
    i=0
    until ls /results/*/benchmarks.json >/dev/null 2>&1; do
        i=$((i + 1))
        if [ "$i" -gt 1200 ] || ! kill -0 "$outer" 2>/dev/null; then
            echo "no case saved (the run ended or took 10 minutes)" >&2
            exit 1
        fi
        sleep 0.5
    done
    pid1="$(cat "/proc/$outer/task/$outer/children")"
    pid1="${pid1%% *}"
    echo "first case saved: SIGTERM to PID 1 of the run (pid $pid1 outside its namespace)"
    kill -TERM "$pid1"
    wait "$outer"
' || status=$?
[ "$status" -eq 2 ] || fail "the run stopped by SIGTERM exited $status, not 2 (interrupted)"
[ -s "$stopped/latest/report.html" ] || fail "no report.html after SIGTERM"
python3 - "$stopped/latest/benchmarks.json" <<'EOF'
import json, sys

run = json.load(open(sys.argv[1]))["devicebench"]["run"]
assert run["state"] == "interrupted" and run["reason"].startswith("stopped by SIGTERM"), f"after SIGTERM: {run}"
print(f"SIGTERM to PID 1: run {run['state']} ({run['reason']}), summary and report.html written")
EOF
buildah rm "$ctr" >/dev/null
ctr=""

step "buildah bud -f Dockerfile.gpu (TF_PACKAGE=tensorflow-cpu)"
buildah bud --isolation chroot --layers \
    --build-arg BASE_IMAGE="$base" --build-arg IMAGE_TAG="$gpu_tag" --build-arg TF_PACKAGE=tensorflow-cpu \
    -f Dockerfile.gpu -t "$gpu_tag" .

step "checks of $gpu_tag"
ctr="$(buildah from --quiet "$gpu_tag")"
unshare --net buildah run --isolation chroot "$ctr" -- sh -eu -c '
    test "$(id -u)" = 10001
    test "$CUDA_DEVICE_ORDER" = PCI_BUS_ID
    test "$NVIDIA_DRIVER_CAPABILITIES" = compute,utility
    test "$NVIDIA_VISIBLE_DEVICES" = all
    test -x /usr/local/bin/devicebench-entrypoint
    test -z "$(find /home/bench /results ! -user 10001 -print -quit)"
    python3 -c "import tensorflow as tf, bench, reports; print(\"tensorflow\", tf.__version__, \"devices\", tf.config.list_physical_devices())"
    python3 -m pytest "$DEVICEBENCH_SRC/bench" --profile smoke -p no:cacheprovider --collect-only -q | tail -n 3
' || fail "the GPU image's checks failed"
buildah rm "$ctr" >/dev/null
ctr=""

step "done in $(($(date +%s) - start))s; images:"
buildah images --filter "reference=localhost/devicebench*"
