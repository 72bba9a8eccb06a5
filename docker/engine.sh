#!/bin/sh
# A Docker engine for the tests: use the one DOCKER_HOST names (or the
# default socket) if it answers, else start Debian's dockerd as root with
# no bridge network and no iptables/forwarding rules: containers and builds
# use the host's network only.
#
#   docker/engine.sh start    prints the DOCKER_HOST to use; exit 1 if no
#                             engine can run here (and says why)
#   docker/engine.sh stop     stops an engine this script started
set -eu

SOCK=/run/docker-pywsgi.sock
PIDFILE=/run/docker-pywsgi.pid
LOG=/var/log/docker-pywsgi.log

answers() {
    DOCKER_HOST=$1 docker version --format '{{.Server.Version}}' >/dev/null 2>&1
}

start() {
    for host in "${DOCKER_HOST:-}" unix:///var/run/docker.sock "unix://$SOCK"; do
        if [ -n "$host" ] && answers "$host"; then
            echo "$host"
            return 0
        fi
    done
    if ! command -v dockerd >/dev/null; then
        echo "engine.sh: dockerd is not installed (apt-get install docker.io)" >&2
        return 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        echo "engine.sh: starting dockerd needs root" >&2
        return 1
    fi
    nohup dockerd --bridge=none --iptables=false --ip-masq=false \
        --ip-forward=false --data-root /var/lib/docker-pywsgi \
        --exec-root /run/docker-pywsgi -H "unix://$SOCK" \
        --pidfile "$PIDFILE" >"$LOG" 2>&1 &
    i=0
    while [ $i -lt 60 ]; do
        if answers "unix://$SOCK"; then
            echo "unix://$SOCK"
            return 0
        fi
        sleep 0.5
        i=$((i + 1))
    done
    echo "engine.sh: dockerd did not come up; the end of $LOG:" >&2
    tail -20 "$LOG" >&2
    return 1
}

stop() {
    if [ -f "$PIDFILE" ]; then
        kill "$(cat "$PIDFILE")" 2>/dev/null || true
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
