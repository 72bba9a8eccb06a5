#!/bin/sh
# Build mod_pywsgi.so against the installed Apache httpd with apxs (Debian:
# apache2-dev), so it matches /usr/sbin/apache2's module ABI.
#
#   apache-module/build.sh OUTDIR GATEWAY_FILE [BUILDDIR]
#
# OUTDIR        where mod_pywsgi.so goes (pywsgi_embed/modules)
# GATEWAY_FILE  the gateway library's file name, one directory above OUTDIR,
#               e.g. _gateway.cpython-311-x86_64-linux-gnu.so
# BUILDDIR      where apxs and libtool work (default: build/apache of the
#               checkout); the sources are copied there, because libtool
#               leaves its .lo/.la/.libs next to the sources it compiles
#
# The module never includes Python.h: it dlopen()s the gateway at run time.
# The warnings are nginx's (-W -Wall, unused parameters allowed: hooks have
# fixed signatures); PYWSGI_WERROR=1 (make lint) makes them errors.
set -eu

if [ $# -lt 2 ]; then
    echo "usage: $0 OUTDIR GATEWAY_FILE [BUILDDIR]" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
csrc=$(cd "$here/../csrc" && pwd)
outdir=$1
gateway_file=$2
builddir=${3:-$here/../build/apache}

apxs=$(command -v apxs || command -v apxs2 || true)

if [ -z "$apxs" ]; then
    echo "pywsgi-embed: cannot build the Apache module: apxs is missing" \
         "(apt-get install apache2-dev)" >&2
    exit 1
fi

mkdir -p "$builddir" "$outdir"
builddir=$(cd "$builddir" && pwd)
outdir=$(cd "$outdir" && pwd)

# a fresh copy every time: stale objects of removed files must not link
rm -rf "$builddir/src"
mkdir "$builddir/src"
cp "$here"/mod_pywsgi*.c "$here"/mod_pywsgi.h "$builddir/src/"
cp "$csrc"/pywsgi.h "$csrc"/pywsgi_env.h "$csrc"/pywsgi_env.c \
   "$csrc"/pywsgi_headers.h "$csrc"/pywsgi_loader.h \
   "$csrc"/pywsgi_loader.c "$csrc"/pywsgi_process.h "$csrc"/pywsgi_spec.h \
   "$csrc"/pywsgi_spec.c "$csrc"/pywsgi_check.h "$csrc"/pywsgi_check.c \
   "$builddir/src/"

cd "$builddir/src"

# PYWSGI_EXTRA_CFLAGS: more compiler flags (make test-asan's sanitizers)
extra=""
for flag in ${PYWSGI_EXTRA_CFLAGS:-}; do
    extra="$extra -Wc,$flag"
done

# mod_pywsgi.c first: apxs names the module after the first source
# shellcheck disable=SC2086
"$apxs" -c -o mod_pywsgi.la \
    -I . -DPYWSGI_GATEWAY_FILE="\\\"$gateway_file\\\"" \
    -Wc,-Wall -Wc,-Wextra -Wc,-Wno-unused-parameter -Wc,-std=gnu99 $extra \
    ${PYWSGI_WERROR:+-Wc,-Werror} \
    mod_pywsgi.c mod_pywsgi_*.c pywsgi_env.c pywsgi_loader.c pywsgi_spec.c \
    pywsgi_check.c \
    -ldl > "$builddir/build.log" 2>&1 || {
    cat "$builddir/build.log" >&2
    echo "pywsgi-embed: building the Apache module failed (log:" \
         "$builddir/build.log)" >&2
    exit 1
}

# warnings are worth seeing, the libtool chatter is not
grep -E "warning:|error:" "$builddir/build.log" >&2 || true

# a new file renamed into place: running children keep the old one mapped
tmp="$outdir/.mod_pywsgi.so.$$"
cp .libs/mod_pywsgi.so "$tmp"
mv -f "$tmp" "$outdir/mod_pywsgi.so"
echo "pywsgi-embed: built $outdir/mod_pywsgi.so"
