"""The status handler: a WSGI app of the package that any location mounts,

    nginx:   location = /status { pywsgi_app pywsgi_embed.status:application; }
    Apache:  PyWSGIApp /status pywsgi_embed.status:application
    serve:   pywsgi-embed serve app.py --status /status

Loading it makes every worker count its requests (metrics.py); it answers
the figures of every app, summed over all workers of the server:
  - JSON by default;
  - the Prometheus text format (0.0.4) with ?format=prometheus or an
    Accept header asking for text/plain;version=0.0.4;
  - beside the apps' figures, the 503s of nginx's queue (queue timeout,
    queue bound), counted by the module through pywsgi_count(), and the
    requests waiting in that queue now (`queued`, per app, per worker and
    in all: pywsgi_gauge_add()); always 0 on Apache, whose module has no
    queue (a request waits for a thread in the MPM, before it is ours);
  - ?stacks: the stacks dump of the worker that answers (the request
    line, age and Python stack of each request whose app code runs), as
    text; SIGURG to a worker logs the same (watchdog.py).
Its own requests are counted too, under its own app label.  Put it
behind an access rule: it tells the requests in flight.
"""

import json
from urllib.parse import parse_qs

from pywsgi_embed import metrics, watchdog

PROMETHEUS = "text/plain; version=0.0.4; charset=utf-8"

metrics.want()


def application(environ, start_response):
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if "stacks" in query:
        body = (watchdog.report() + "\n").encode("utf-8", "backslashreplace")
        content_type = "text/plain; charset=utf-8"
    elif _wants_prometheus(query, environ.get("HTTP_ACCEPT", "")):
        body = prometheus(metrics.snapshot()).encode()
        content_type = PROMETHEUS
    else:
        body = (json.dumps(metrics.snapshot(), indent=1) + "\n").encode()
        content_type = "application/json"
    start_response(
        "200 OK",
        [("Content-Type", content_type), ("Cache-Control", "no-store")],
    )
    return [body]


def _wants_prometheus(query, accept):
    if query.get("format", [""])[-1] == "prometheus":
        return True
    accept = accept.replace(" ", "")
    return "text/plain" in accept and "version=0.0.4" in accept


def _label(value):
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def prometheus(snap):
    """The snapshot in the Prometheus text exposition format."""
    out = []

    def family(name, kind, text):
        out.append("# HELP pywsgi_%s %s" % (name, text))
        out.append("# TYPE pywsgi_%s %s" % (name, kind))

    def sample(name, value, **labels):
        tags = ",".join(
            '%s="%s"' % (k, _label(str(v))) for k, v in labels.items()
        )
        out.append(
            "pywsgi_%s%s %s" % (name, "{%s}" % tags if tags else "", value)
        )

    apps = snap["apps"]
    family("requests_total", "counter", "Requests ended, by status class.")
    for app in apps:
        for cls, n in app["requests"].items():
            sample("requests_total", n, app=app["app"], code=cls)
        sample("requests_total", app["no_status"], app=app["app"], code="none")
    family("in_flight", "gauge", "Requests begun and not ended.")
    for app in apps:
        sample("in_flight", app["in_flight"], app=app["app"])
    family("queued", "gauge", "Requests waiting for a thread of the pool.")
    for app in apps:
        sample("queued", app["queued"], app=app["app"])
    family("timeouts_total", "counter", "Requests past pywsgi_timeout.")
    for app in apps:
        sample("timeouts_total", app["timeouts"], app=app["app"])
    family("cut_total", "counter", "Responses ended by a cut connection.")
    for app in apps:
        sample("cut_total", app["cut"], app=app["app"])
    family("request_duration_seconds", "histogram", "Request latency.")
    for app in apps:
        latency = app["latency"]
        for bound, n in latency["buckets"].items():
            sample(
                "request_duration_seconds_bucket", n, app=app["app"], le=bound
            )
        sample(
            "request_duration_seconds_sum",
            "%.6f" % latency["sum_seconds"],
            app=app["app"],
        )
        sample(
            "request_duration_seconds_count",
            latency["buckets"]["+Inf"],
            app=app["app"],
        )
    family("busy_threads", "gauge", "Requests in flight, all workers.")
    sample("busy_threads", snap["busy_threads"])
    family("idle_threads", "gauge", "Threads that served and are idle.")
    sample("idle_threads", snap["idle_threads"])
    family("workers", "gauge", "Worker processes alive.")
    sample("workers", len(snap["workers"]))
    family(
        "recycles_total", "counter", "Workers that exited and were replaced."
    )
    sample("recycles_total", snap["recycles"])
    family("shed_total", "counter", "503s of the queue, the app not called.")
    for reason, n in snap["shed"].items():
        sample("shed_total", n, reason=reason)
    return "\n".join(out) + "\n"
