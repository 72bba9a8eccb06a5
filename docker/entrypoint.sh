#!/bin/sh
# The images' command: `pywsgi-embed serve` on the server of the image,
# configured by the environment:
#   APP      the app spec (default: the example app, /app/hello.py)
#   HOST     the address to listen on (default 127.0.0.1; 0.0.0.0 to be
#            reached from outside a host-network container)
#   PORT     (8000)   WORKERS (1)   THREADS (16)
#   MODE     nginx: threads or inline (threads)
#   MPM      Apache: event, worker or prefork (event)
#   MOUNTS   URL prefixes of the app, space-separated (/)
# Logs go to stdout/stderr, so `docker logs` has them.
set -eu

mounts=""
for prefix in ${MOUNTS:-/}; do
    mounts="$mounts --mount $prefix"
done

# shellcheck disable=SC2086
exec /opt/pywsgi/bin/pywsgi-embed serve "${APP:-/app/hello.py}" \
    --server "$PYWSGI_SERVER" --host "${HOST:-127.0.0.1}" \
    --port "${PORT:-8000}" --workers "${WORKERS:-1}" \
    --threads "${THREADS:-16}" --mode "${MODE:-threads}" \
    --mpm "${MPM:-event}" $mounts
