#!/bin/bash
# Build ngx_http_pywsgi_module.so against the installed nginx, the nginx way:
# Debian's nginx-dev ships nginx's configure, auto/ and conf_flags (the
# configure arguments of the packaged nginx, with --with-compat), so the
# module is binary compatible with /usr/sbin/nginx.
#
#   nginx-module/build.sh OUTDIR GATEWAY_FILE [BUILDDIR]
#
# OUTDIR        where the .so goes (pywsgi_embed/modules)
# GATEWAY_FILE  the gateway library's file name, one directory above OUTDIR
# BUILDDIR      nginx's objs directory (default: build/nginx of the checkout)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
outdir=$1
gateway_file=$2
builddir=${3:-$here/../build/nginx}
src=/usr/share/nginx/src

if [ ! -f "$src/conf_flags" ] || ! command -v nginx >/dev/null; then
    echo "pywsgi-embed: cannot build the nginx module: nginx and nginx-dev" \
         "are not installed (apt-get install nginx nginx-dev)" >&2
    exit 1
fi

mkdir -p "$builddir" "$outdir"
builddir=$(cd "$builddir" && pwd)

# configure takes a while: run it again only when what it saw changed
stamp="$builddir/.pywsgi-configured"
want="$(nginx -v 2>&1) $here $gateway_file $(cat "$src/conf_flags" "$here/config" | md5sum)"

if [ ! -f "$builddir/Makefile" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]
then
    # shellcheck disable=SC1091
    . "$src/conf_flags"
    (cd "$src" && PYWSGI_GATEWAY_FILE=$gateway_file ./configure \
        "${NGX_CONF_FLAGS[@]}" --add-dynamic-module="$here" \
        --builddir="$builddir" > "$builddir/configure.log" 2>&1) || {
        tail -30 "$builddir/configure.log" >&2
        echo "pywsgi-embed: nginx's configure failed, see" \
             "$builddir/configure.log" >&2
        exit 1
    }
    echo "$want" > "$stamp"
fi

(cd "$src" && make -s -f "$builddir/Makefile" modules)

# a new file renamed into place: running workers keep the old one mapped
tmp="$outdir/.ngx_http_pywsgi_module.so.$$"
cp "$builddir/ngx_http_pywsgi_module.so" "$tmp"
mv -f "$tmp" "$outdir/ngx_http_pywsgi_module.so"
echo "pywsgi-embed: built $outdir/ngx_http_pywsgi_module.so"
