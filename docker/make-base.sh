#!/bin/sh
# Make a local base image for the Dockerfiles without any registry:
# a Debian bookworm "minbase" root filesystem with python3 and pip (Python 3.11), made with
# debootstrap, imported into buildah's storage as TAG (default localhost/devicebench-base:bookworm).
#
#   docker/make-base.sh [TAG]          (as root; needs debootstrap, buildah, tar)
#
# The root filesystem is cached as a tarball in $DEVICEBENCH_CONTAINER_CACHE (default
# .nox/container-cache), so only the first run downloads packages. The host's CA bundle is
# copied into the image: the build's network may pass through a TLS-inspecting proxy that
# the host trusts, and pip inside the build must trust it too.
set -eu

tag="${1:-localhost/devicebench-base:bookworm}"
suite="${DEVICEBENCH_DEBIAN_SUITE:-bookworm}"
mirror="${DEVICEBENCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
packages="python3,python3-pip,python3-venv,ca-certificates"
cache="${DEVICEBENCH_CONTAINER_CACHE:-.nox/container-cache}"
host_ca="${DEVICEBENCH_HOST_CA:-/etc/ssl/certs/ca-certificates.crt}"

for tool in debootstrap buildah tar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make-base: $tool not found (apt-get install debootstrap buildah)" >&2
        exit 2
    fi
done
if [ "$(id -u)" -ne 0 ]; then
    echo "make-base: debootstrap needs root" >&2
    exit 2
fi

if buildah inspect --type image "$tag" >/dev/null 2>&1; then
    echo "make-base: $tag already in buildah's storage"
    exit 0
fi

mkdir -p "$cache"
key="$(printf '%s %s %s' "$suite" "$mirror" "$packages" | sha256sum | cut -c1-12)"
tarball="$cache/rootfs-$suite-minbase-$key.tar"

if [ ! -s "$tarball" ]; then
    rootfs="$(mktemp -d "${TMPDIR:-/tmp}/devicebench-rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    echo "make-base: debootstrap $suite ($packages) from $mirror"
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
        tail -n 20 "$cache/debootstrap.log" >&2
        echo "make-base: debootstrap failed (log: $cache/debootstrap.log)" >&2
        exit 1
    }
    # What a container base does not need: package caches, lists, docs, locales.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/var/log/*.log "$rootfs"/tmp/*
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.part" .
    mv "$tarball.part" "$tarball"
    rm -rf "$rootfs"
    trap - EXIT
else
    echo "make-base: using cached root filesystem $tarball"
fi

ctr="$(buildah from scratch)"
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tarball" /
if [ -s "$host_ca" ]; then
    buildah copy --quiet "$ctr" "$host_ca" /etc/ssl/certs/ca-certificates.crt
fi
buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 \
    --cmd /bin/bash \
    --label org.opencontainers.image.description="devicebench local base: Debian $suite minbase with python3 (debootstrap)" \
    "$ctr"
buildah commit --quiet --rm "$ctr" "$tag" >/dev/null
trap - EXIT
echo "make-base: committed $tag"
