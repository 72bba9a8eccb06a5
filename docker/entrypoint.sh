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
#   MAX_REQUESTS, MAX_REQUESTS_JITTER, MAX_LIFETIME (seconds), MAX_RSS
#            (e.g. 512M): recycling, a worker retires gracefully past one
#            (0 or unset: no limit)
#   STATUS   the path of the status handler for probes (e.g. /status;
#            unset: none)
# Logs go to stdout/stderr, so `docker logs` has them.
#
# SIGTERM (docker stop, Kubernetes) is a graceful stop: `serve` is PID 1
# (exec below) and turns it into the server's own graceful stop (nginx:
# SIGQUIT, Apache: graceful-stop); requests in flight finish, then the
# server exits; after 30 s `serve` kills what is left.  Give the container
# more than that to stop (docker stop -t 35, terminationGracePeriodSeconds).
set -eu

mounts=""
for prefix in ${MOUNTS:-/}; do
    mounts="$mounts --mount $prefix"
done

status=""
if [ -n "${STATUS:-}" ]; then
    status="--status $STATUS"
fi

# shellcheck disable=SC2086
exec "${PYWSGI_EMBED:-/opt/pywsgi/bin/pywsgi-embed}" serve \
    "${APP:-/app/hello.py}" \
    --server "$PYWSGI_SERVER" --host "${HOST:-127.0.0.1}" \
    --port "${PORT:-8000}" --workers "${WORKERS:-1}" \
    --threads "${THREADS:-16}" --mode "${MODE:-threads}" \
    --mpm "${MPM:-event}" $mounts \
    --max-requests "${MAX_REQUESTS:-0}" \
    --max-requests-jitter "${MAX_REQUESTS_JITTER:-0}" \
    --max-lifetime "${MAX_LIFETIME:-0}" --max-rss "${MAX_RSS:-0}" $status
