/*
 * pywsgi_recycle.h: inside the gateway library, when a worker retires.
 *
 * The recycling limits of pywsgi_config (max_requests with its jitter,
 * max_lifetime, max_rss) are counted here, once for both servers: the
 * entry points of gateway.c report each finished request, and the first
 * limit passed calls the module's pywsgi_io.retire, which is THE graceful
 * retirement of a worker on each server (see pywsgi.h).  pywsgi_retire()
 * is the same call for anyone else (a timeout watchdog, the app).
 */

#ifndef PYWSGI_RECYCLE_H
#define PYWSGI_RECYCLE_H

#include "pywsgi.h"

/* the limits and the io table of the worker (each pywsgi_init) */
void pywsgi_recycle_configure(const pywsgi_config *cfg);

/* one request finished (any thread, the GIL not needed): counts it and
   retires the worker when a limit is passed */
void pywsgi_recycle_request_done(void);

#endif /* PYWSGI_RECYCLE_H */
