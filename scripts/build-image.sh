#!/usr/bin/env bash
# Builds a Debian image with systemd that Molecule's test hosts boot (`/sbin/init` as PID 1), for one release:
# bullseye (11), bookworm (12, the default) or trixie (13), as localhost/seqr-s3-debian-<release>-systemd:latest.
# Usage: scripts/build-image.sh [RELEASE] [--force]   (RELEASE also from SEQR_S3_DEBIAN_RELEASE)
# No image registry is reachable from this kind of machine, so the image is made locally with debootstrap and
# `podman import`. It is cached: an image that already exists is kept (pass --force to rebuild it).
set -euo pipefail
cd "$(dirname "$0")/.."

# podman here needs runc and lower ulimits (see scripts/containers.conf); callers may point elsewhere.
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}

usage="usage: $0 [bullseye|bookworm|trixie] [--force]"
release=${SEQR_S3_DEBIAN_RELEASE:-bookworm}
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    bullseye | bookworm | trixie) release=$arg ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
done
case "$release" in
  bullseye | bookworm | trixie) ;;
  *) echo "build-image: unknown Debian release '$release' (SEQR_S3_DEBIAN_RELEASE); $usage" >&2; exit 2 ;;
esac
image=localhost/seqr-s3-debian-$release-systemd:latest

if [ "$force" = 0 ] && podman image exists "$image"; then
  echo "build-image: $image exists, kept (use --force to rebuild)"
  exit 0
fi

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing, run scripts/setup.sh" >&2; exit 1; }
done

# The same Debian mirror the controller uses, so a proxy or snapshot set up for this machine applies too.
mirror=$(grep -hoE '^(deb|URIs:) +https?://[^ ]+/debian/?( |$)' /etc/apt/sources.list /etc/apt/sources.list.d/* \
  2>/dev/null | head -n1 | awk '{print $2}' || true)
mirror=${SEQR_S3_DEBIAN_MIRROR:-${mirror:-http://deb.debian.org/debian}}
mirror=${mirror%/}

workdir=$(mktemp -d /var/tmp/seqr-s3-image.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
rootfs=$workdir/rootfs

echo "build-image: debootstrap $release from $mirror (about a minute)"
debootstrap --variant=minbase \
  --include=python3,systemd,systemd-sysv,iproute2,procps,curl,ca-certificates \
  "$release" "$rootfs" "$mirror" >"$workdir/debootstrap.log" 2>&1 || {
  tail -n 30 "$workdir/debootstrap.log" >&2
  exit 1
}

# Updates and security fixes, so packages installed by prepare and by the role are current.
cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $mirror $release main
deb $mirror $release-updates main
deb ${mirror%/debian}/debian-security $release-security main
EOF
# Keep test hosts as small as the hosts the role targets: no recommends unless a task asks for them.
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$rootfs/etc/apt/apt.conf.d/90seqr-s3-no-recommends"

# pip and curl inside the hosts must trust the same extra authorities as this machine (e.g. an egress proxy).
shopt -s nullglob
extra_cas=(/usr/local/share/ca-certificates/*.crt)
if [ ${#extra_cas[@]} -gt 0 ]; then
  mkdir -p "$rootfs/usr/local/share/ca-certificates"
  cp "${extra_cas[@]}" "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
fi

# Units that cannot work in a container and would only show as failed.
for unit in systemd-remount-fs.service getty@.service console-getty.service systemd-udevd.service \
  systemd-udev-trigger.service systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
# The hostname comes from podman; an empty machine-id is filled in by systemd at boot, one per container.
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

echo "build-image: importing as $image"
podman image rm -f "$image" >/dev/null 2>&1 || true
tar -C "$rootfs" -c . | podman import --quiet --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL SIGRTMIN+3' - "$image" \
  >/dev/null
echo "build-image: built $image"
