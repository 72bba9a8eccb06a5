#!/bin/sh
# Make debian:bookworm-slim for a Docker engine that cannot pull images:
# build it here with mmdebstrap from this machine's own apt sources and
# `docker import` it.  Does nothing when the tag exists already.
#
#   docker/make-base-image.sh [TAG]        (default debian:bookworm-slim)
set -eu

tag=${1:-debian:bookworm-slim}

if docker image inspect "$tag" >/dev/null 2>&1; then
    exit 0
fi

if ! command -v mmdebstrap >/dev/null; then
    echo "make-base-image: mmdebstrap is not installed (apt-get install mmdebstrap)" >&2
    exit 1
fi

# the host's sources (deb822 or one-line), so it works where this machine's
# apt works, mirrors and proxies included
sources=""
for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -s "$f" ] && sources="$sources $f"
done

tarball=$(mktemp /tmp/bookworm-slim.XXXXXX.tar)
trap 'rm -f "$tarball"' EXIT

echo "make-base-image: building $tag with mmdebstrap (a few minutes)" >&2
# minbase, without the documentation and locales a slim image leaves out
# shellcheck disable=SC2086
mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    --aptopt='APT::Install-Recommends "false"' \
    bookworm "$tarball" $sources

docker import --change 'CMD ["bash"]' "$tarball" "$tag" >/dev/null
echo "make-base-image: imported $tag" >&2
