#!/bin/sh
# make test-asan: the gateway library and both modules built with
# AddressSanitizer and UndefinedBehaviorSanitizer into build/asan (the normal
# build in pywsgi_embed/ is left alone), then the HTTP suite against nginx
# (threads and inline) and Apache loading them.  Any sanitizer report fails
# the run, with the report printed.
#
#   tools/test-asan.sh [PYTEST ARGS...]   (default: -q tests/http)
#
# How: build/asan/pkg/pywsgi_embed is a copy of the Python package with the
# sanitized gateway beside it (its init code imports the package next to
# the library) and the sanitized modules in its modules/, which the servers
# load through PYWSGI_EMBED_MODULES.  nginx, Apache and CPython are not
# instrumented, so the sanitizer runtimes are preloaded into the servers
# only (PYWSGI_SERVER_PRELOAD, tests/harness.py); leak checking is off, as
# an embedded interpreter and the servers themselves free little at exit.
# Reports go to files (log_path), but a worker's land in the server's error
# log (stderr there) all the same: both are searched, pytest's temp
# directory (the servers' logs) kept in build/asan/tmp for that.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
PY=${PY:-.venv/bin/python}
out=$root/build/asan
pkg=$out/pkg/pywsgi_embed
san="-fsanitize=address,undefined -fno-omit-frame-pointer -g"

rm -rf "$out/pkg" "$out/reports" "$out/tmp"
mkdir -p "$pkg/modules" "$out/reports"
cp pywsgi_embed/*.py "$pkg/"
cp -r pywsgi_embed/servers "$pkg/"
find "$pkg" -name __pycache__ -prune -exec rm -rf {} +

echo "test-asan: the gateway library"
CFLAGS="$san" LDFLAGS="-fsanitize=address,undefined" "$PY" -c "
import sys, sysconfig
sys.path.insert(0, '.')
from pywsgi_embed._build import ffibuilder
ffibuilder.compile(tmpdir='$out/build', verbose=False, target='$pkg/_gateway'
                   + sysconfig.get_config_var('EXT_SUFFIX'))
" > "$out/gateway.log" 2>&1 || { cat "$out/gateway.log"; exit 1; }
gateway_file=$(cd "$pkg" && ls _gateway*.so)
# the reload file's check command, beside the library it loads
"$PY" -c "
import sys
sys.path.insert(0, '.')
from pywsgi_embed._build import build_check
build_check('$pkg', '$san'.split())
" >> "$out/gateway.log" 2>&1 || { cat "$out/gateway.log"; exit 1; }

echo "test-asan: the nginx module"
CFLAGS="$san" bash nginx-module/build.sh "$pkg/modules" "$gateway_file" \
    "$out/nginx" > /dev/null
echo "test-asan: the Apache module"
PYWSGI_EXTRA_CFLAGS="$san" sh apache-module/build.sh "$pkg/modules" \
    "$gateway_file" "$out/apache" > /dev/null

preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
[ $# -gt 0 ] || set -- -q tests/http

echo "test-asan: pytest $*"
rc=0
PYWSGI_EMBED_MODULES="$pkg/modules" \
PYWSGI_SERVER_PRELOAD="$preload" \
ASAN_OPTIONS="detect_leaks=0:log_path=$out/reports/asan" \
UBSAN_OPTIONS="print_stacktrace=1:log_path=$out/reports/ubsan" \
    "$PY" -m pytest -p no:cacheprovider --basetemp="$out/tmp" "$@" || rc=$?

found=$(grep -rlE "ERROR: AddressSanitizer|AddressSanitizer:DEADLYSIGNAL|: runtime error: " "$out/reports" "$out/tmp" || true)
if [ -n "$found" ]; then
    for report in $found; do
        echo "==== $report"
        grep -E -A40 "ERROR: AddressSanitizer|DEADLYSIGNAL|: runtime error: " \
            "$report" | head -80
    done
    echo "test-asan: SANITIZER REPORTS in: $found" >&2
    exit 1
fi
[ $rc -eq 0 ] && echo "test-asan: no sanitizer report"
exit $rc
