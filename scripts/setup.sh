#!/usr/bin/env bash
# Installs everything the tests, the demo and the benchmarks need, from nothing: Debian packages, then the
# controller's virtualenv (.venv). Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(
  nginx                      # the site under test, on loopback and in the seqr host
  libnginx-mod-http-headers-more-filter  # the accel location clears the store's x-amz-* headers by prefix
  podman runc debootstrap    # Molecule's systemd containers and their locally built image
  uidmap slirp4netns iptables containernetworking-plugins
  chromium fonts-liberation  # igv.js in a real browser
  libnss3-tools              # certutil: the browser's trust of a test CA (molecule/s3_networks)
  wrk apache2-utils          # benchmarks
  tinyproxy                  # the egress (forward) proxy between seqr and S3 in the integration tests
  curl make git
)
# The IGV CSS hash tool runs on Node (>= 18, as Debian 12 ships); keep a Node already installed from elsewhere.
command -v npm >/dev/null 2>&1 || apt_packages+=(nodejs npm)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nginx package starts a daemon on port 80 where it can; tests run their own nginx instances.
if [ -f /run/nginx.pid ] && [ -z "${SEQR_S3_KEEP_SYSTEM_NGINX:-}" ]; then
  nginx -s quit 2>/dev/null || true
fi

python=${PYTHON:-python3}
stamp=.venv/.requirements-dev.sha256
# The package is installed editable from python/: its pyproject.toml counts too.
want=$(cat requirements-dev.txt python/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: building .venv from requirements-dev.txt"
  "$python" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -r requirements-dev.txt
  .venv/bin/pip install -q -e python
  echo "$want" > "$stamp"
fi
echo "setup: ready"
