#!/bin/sh
# Install the Debian packages that building, testing and benchmarking need,
# skipping what is already there (make calls this on every run).
#   tools/install-deps.sh [extra packages...]
set -eu

PACKAGES="nginx nginx-dev apache2 apache2-dev gcc make pkg-config
          python3-dev python3-venv valgrind wrk curl procps shellcheck strace
          libapache2-mod-wsgi-py3 $*"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "pywsgi-embed: installing Debian packages:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# Debian's nginx and apache2 start a service on port 80 when installed;
# we run our own instances, so keep them from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi

$SUDO apt-get update -q
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
