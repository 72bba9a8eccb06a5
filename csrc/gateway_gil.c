/*
 * gateway_gil.c: where a server's scheduler can see whether the GIL is
 * held, without taking it (see pywsgi_gil() in pywsgi.h).
 *
 * The only file of the gateway built with Py_BUILD_CORE: the GIL's state is
 * CPython-internal.  Its "locked" flag has kept its place in struct
 * _gil_runtime_state (after interval and last_holder) from 3.9 to 3.13; the
 * struct moved from the runtime (3.9-3.11) into each interpreter (3.12+).
 * A free-threaded build has no GIL: NULL, and the scheduler treats every
 * thread as free to run.
 */

#define Py_BUILD_CORE 1

#include <Python.h>

#if PY_VERSION_HEX >= 0x030C0000
#include "internal/pycore_interp.h"
#else
#include "internal/pycore_runtime.h"
#endif

#include "pywsgi.h"


const volatile int *
pywsgi_gil(void)
{
#if defined(Py_GIL_DISABLED)
    return NULL;

#elif PY_VERSION_HEX >= 0x030C0000
    PyInterpreterState  *interp;

    interp = PyInterpreterState_Main();

    if (interp == NULL || interp->ceval.gil == NULL) {
        return NULL;
    }

    return (const volatile int *) &interp->ceval.gil->locked;

#else
    return (const volatile int *) &_PyRuntime.ceval.gil.locked;
#endif
}
