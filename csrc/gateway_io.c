/*
 * gateway_io.c: the C functions through which the gateway's Python side
 * calls the server module's pywsgi_io callbacks (declared in gateway.h,
 * which says why they exist).
 */

#include <stdlib.h>
#include <string.h>

#include "pywsgi.h"
#include "gateway.h"


static const pywsgi_io  *gw_io;



void
pywsgi_gw_set_io(const pywsgi_io *io)
{
    gw_io = io;
}


ssize_t
pywsgi_gw_read(intptr_t handle, char *buf, size_t n)
{
    if (gw_io == NULL) {             /* no app loaded in this process */
        return -1;
    }

    return gw_io->read((void *) handle, buf, n);
}


/* "Content-Length\0<n>\0" at p; its length */
static size_t
put_length(char *p, size_t n)
{
    static const char  name[] = "Content-Length";
    char               digits[24];
    size_t             len, i;

    memcpy(p, name, sizeof(name));          /* with its NUL */
    len = sizeof(name);

    i = sizeof(digits);
    do {
        digits[--i] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    memcpy(p + len, digits + i, sizeof(digits) - i);
    len += sizeof(digits) - i;
    p[len++] = '\0';

    return len;
}


int
pywsgi_gw_start(intptr_t handle, const char *head, size_t head_len,
    size_t nheaders, const char *body, size_t body_len, int flags)
{
    const char  *headers;
    char         stack[4096], *buf;
    size_t       status_len, headers_len;
    int          status, rc;

    if (gw_io == NULL) {
        return -1;
    }

    status_len = strlen(head);
    status = (head[0] - '0') * 100 + (head[1] - '0') * 10 + (head[2] - '0');
    headers = head + status_len + 1;
    headers_len = head_len - status_len - 1;

    if (!(flags & PYWSGI_GW_ADD_LENGTH)) {
        return gw_io->start((void *) handle, status, head, status_len,
                            headers, headers_len, nheaders, body, body_len,
                            flags);
    }

    /* the headers and a Content-Length, in one blob for the module */

    buf = stack;
    if (headers_len + 40 > sizeof(stack)) {
        buf = malloc(headers_len + 40);
        if (buf == NULL) {
            return -1;
        }
    }

    memcpy(buf, headers, headers_len);
    headers_len += put_length(buf + headers_len, body_len);

    rc = gw_io->start((void *) handle, status, head, status_len, buf,
                      headers_len,
                      nheaders + 1, body, body_len,
                      flags & ~PYWSGI_GW_ADD_LENGTH);

    if (buf != stack) {
        free(buf);
    }

    return rc;
}


int
pywsgi_gw_write(intptr_t handle, const char *buf, size_t n)
{
    if (gw_io == NULL) {
        return -1;
    }

    return gw_io->write((void *) handle, buf, n);
}


int
pywsgi_gw_sendfile(intptr_t handle, int fd, int64_t offset, int64_t n)
{
    if (gw_io == NULL) {
        return -1;
    }

    return gw_io->sendfile((void *) handle, fd, offset, n);
}


void
pywsgi_gw_log(intptr_t handle, int level, const char *msg, size_t n)
{
    if (gw_io != NULL) {
        gw_io->log((void *) handle, level, msg, n);
    }
}
