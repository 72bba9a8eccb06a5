"""Checking what an app gives start_response(), and packing it for the
server: the "head" of a response.

A head is the status line and the headers as one latin-1 blob,
"200 OK\\0Name\\0Value\\0Name\\0Value\\0", which the gateway's C side
(pywsgi_gw_start in csrc/gateway_io.c) splits into pywsgi_io.start's status,
status line and header arguments.  Everything is checked here, at once, so
that the app sees its own mistake inside start_response (PEP 3333): a str
status "NNN Reason" without control characters, a list of (str, str)
tuples, token names, no CR/LF/NUL or other controls in values, nothing
outside latin-1, no hop-by-hop header, a numeric Content-Length.

Apps send the same few status/header combinations again and again, so the
valid ones are cached: a repeat costs one tuple() and one dict lookup
instead of the checks (1 us -> 0.1 us here).  A hit compares equal, so it
also admits str and tuple subclasses equal to a valid entry.  The cache is
emptied when full, so that varying lists cannot crowd out the hot ones.
The C path (csrc/gateway_heads.c) keeps its own memo of what head_of()
returned, for exact str and tuples, and asks head_of() on every miss.
"""

import re
from http import HTTPStatus

HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
    )
)

_STATUS = re.compile(r"[1-9][0-9][0-9] [\t\x20-\x7e\x80-\xff]*")
_BARE_STATUS = re.compile(r"[1-9][0-9][0-9]")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE_CHAR = re.compile(r"[\x01-\x08\x0a-\x1f\x7f]")

CACHE_MAX = 512
heads = {}  # (status, tuple(headers)) -> Head of valid ones
_names = {}  # header name -> lower-case name, valid ones only


def head_of(status, headers):
    """(head blob, header count, app Content-Length or -1, status code) of
    a valid status and header list; raises TypeError/ValueError."""
    if type(headers) is list:
        try:
            key = (status, tuple(headers))
            hit = heads.get(key)
        except TypeError:  # an unhashable item: let the checks say
            key = hit = None
        if hit is not None:
            return hit
    else:
        key = None
    code, line = parse_status(status)
    blob, count, length = encode_headers(headers, no_body_status(code))
    hit = (line + b"\0" + blob, count, length, code)
    # a bare "200" is not cached: each call of it reaches the app's
    # warning in response.py
    if key is not None and len(status) > 3:
        if len(heads) >= CACHE_MAX:
            heads.clear()
        heads[key] = hit
    return hit


def reason_of(code):
    """The standard reason phrase of a status code."""
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


def parse_status(status):
    """(code, status line bytes) of a valid status, else raise.  A bare
    "NNN" (gunicorn and NGINX Unit take it, PEP 3333 asks for a reason)
    gets the standard reason phrase: the status line on the wire stays
    valid HTTP."""
    if type(status) is not str:
        raise TypeError(
            "start_response(): the status must be a str, not %s"
            % type(status).__name__
        )
    if _BARE_STATUS.fullmatch(status) is not None:
        code = int(status)
        return code, ("%d %s" % (code, reason_of(code))).encode("latin-1")
    if _STATUS.fullmatch(status) is None:
        raise ValueError(
            "start_response(): the status %r is not "
            "'NNN Reason phrase'" % status
        )
    return int(status[:3]), status.encode("latin-1")


def no_body_status(code):
    """1xx, 204 and 304 have no body, hence no Content-Length (RFC 9110
    8.6, 15.3.5, 15.4.5): the server sends none of the app's."""
    return code < 200 or code == 204 or code == 304


def _check_name(name):
    if type(name) is not str:
        raise TypeError(
            "start_response(): a header name must be a str, "
            "not %s: %r" % (type(name).__name__, name)
        )
    if _TOKEN.fullmatch(name) is None:
        raise ValueError(
            "start_response(): %r is not a valid header name" % name
        )
    lower = name.lower()
    if lower in HOP_BY_HOP:
        raise ValueError(
            "start_response(): %r is a hop-by-hop header, "
            "which only the server may set (PEP 3333)" % name
        )
    if len(_names) < CACHE_MAX:
        _names[name] = lower
    return lower


# the largest length both servers hold (a signed 64-bit off_t): a larger
# one would be read as an error, or as unknown (chunked), by the server
MAX_CONTENT_LENGTH = 2**63 - 1


def _content_length(value):
    if not value.isdigit() or not value.isascii():
        raise ValueError(
            "start_response(): Content-Length %r is not a number" % value
        )
    length = int(value)
    if length > MAX_CONTENT_LENGTH:
        raise ValueError(
            "start_response(): Content-Length %s is out of range (at most "
            "%d)" % (value, MAX_CONTENT_LENGTH)
        )
    return length


def encode_headers(headers, no_length=False):
    """(blob, count, content length or -1) of a valid header list, else
    raise.  The blob is "Name\\0Value\\0" pairs, as pywsgi_io.start takes;
    no_length: a Content-Length is checked, then left out of the blob."""
    if type(headers) is not list:
        raise TypeError(
            "start_response(): the headers must be a list of "
            "(name, value) tuples, not %s" % type(headers).__name__
        )
    flat = []
    length = -1
    for item in headers:
        if type(item) is not tuple or len(item) != 2:
            raise TypeError(
                "start_response(): each header must be a "
                "(name, value) tuple, not %r" % (item,)
            )
        name, value = item
        lower = _names.get(name) if type(name) is str else None
        if lower is None:
            lower = _check_name(name)
        if type(value) is not str:
            raise TypeError(
                "start_response(): the value of %s must be a "
                "str, not %s" % (name, type(value).__name__)
            )
        if lower == "content-length":
            length = _content_length(value)
            if no_length:
                length = -1
                continue
        flat.append(name)
        flat.append(value)
    flat.append("")
    text = "\0".join(flat)
    if text.count("\0") != len(flat) - 1 or _BAD_VALUE_CHAR.search(text):
        bad = next(
            h for h in headers if "\0" in h[1] or _BAD_VALUE_CHAR.search(h[1])
        )
        raise ValueError(
            "start_response(): the value of %s has a control "
            "character (CR, LF, NUL...): %r" % bad
        )
    try:
        blob = text.encode("latin-1")
    except UnicodeEncodeError:
        bad = next(
            h
            for h in headers
            if not h[1].isascii() and max(map(ord, h[1])) > 255
        )
        raise ValueError(
            "start_response(): the value of %s is not latin-1: %r" % bad
        ) from None
    return blob, len(flat) // 2, length
