"""The environ built in C (csrc/gateway_environ.c, pywsgi_embed._environ)
equals what the Python rule makes of the same record: the template's copy
updated with dict(zip(parts[::2], parts[1::2])) of the blob's latin-1
text, its last byte dropped and the rest cut at each NUL."""

import pytest

from pywsgi_embed import gateway

TEMPLATE = {
    "wsgi.version": (1, 0),
    "wsgi.url_scheme": "http",
    "SERVER_SOFTWARE": "test/1.0",
}


def python_rule(template, blob):
    """The environ as gateway.py built it before it moved to C."""
    environ = dict(template)
    parts = blob[:-1].decode("latin-1").split("\0") if blob else []
    environ.update(zip(parts[0::2], parts[1::2]))
    return environ


RECORDS = [
    ("plain", b"REQUEST_METHOD\0GET\0PATH_INFO\0/x\0"),
    ("latin-1 bytes", b"HTTP_X_NAME\0caf\xe9 \xff\x80\0PATH_INFO\0/\xe9\0"),
    ("every byte", b"HTTP_ALL\0" + bytes(range(1, 256)) + b"\0"),
    ("empty values", b"QUERY_STRING\0\0CONTENT_TYPE\0\0HTTP_X\0\0"),
    ("one character", b"A\0b\0C\0\xe9\0"),
    ("empty key", b"\0value\0"),
    ("only NULs", b"\0\0"),
    ("repeated key, last wins", b"HTTP_A\0one\0HTTP_A\0two\0HTTP_A\0\0"),
    ("a key without a value", b"A\0b\0C\0"),
    ("one key, no value", b"KEY\0"),
    ("no final NUL", b"A\0bc"),
    (
        "overrides the template",
        b"SERVER_SOFTWARE\0other\0wsgi.url_scheme\0x\0",
    ),
    ("long value, not cached", b"HTTP_COOKIE\0" + b"c=" * 400 + b"\0"),
    (
        "lengths around the cache's 8-byte reads",
        b"".join(
            b"K%d\0%s\0" % (n, bytes(97 + i % 26 for i in range(n)))
            for n in range(1, 40)
        ),
    ),
    (
        "same length and ends, another middle",
        b"HTTP_A\0aaaaaaaaXaaaaaaaa\0HTTP_B\0aaaaaaaaYaaaaaaaa\0",
    ),
]


@pytest.mark.parametrize(
    "blob", [blob for _, blob in RECORDS], ids=[name for name, _ in RECORDS]
)
def test_c_environ_equals_the_python_rule(blob):
    template = dict(TEMPLATE)
    want = python_rule(template, blob)
    # twice: the second build reuses the cached strings of the first
    for _ in range(2):
        got = gateway._environ.build(template, blob)
        assert got == want
        assert list(got) == list(want)  # the same order of keys
        assert all(
            type(k) is str and type(v) is not bytes for k, v in got.items()
        )
    assert template == TEMPLATE  # a copy: the template is never changed


def test_the_cache_never_confuses_strings():
    """Many distinct values through the same few slots: each environ still
    holds exactly its own record's text."""
    template = dict(TEMPLATE)
    for i in range(3000):
        value = b"value-%d-%s" % (i, b"x" * (i % 50))
        blob = b"HTTP_V\0" + value + b"\0HTTP_K%d\0%d\0" % (i % 7, i)
        assert gateway._environ.build(template, blob) == python_rule(
            template, blob
        )


def test_each_build_is_a_new_dict():
    template = dict(TEMPLATE)
    a = gateway._environ.build(template, b"A\0b\0")
    b = gateway._environ.build(template, b"A\0b\0")
    assert a == b and a is not b and a is not template
    a["mutated"] = True
    assert "mutated" not in gateway._environ.build(template, b"A\0b\0")


@pytest.mark.parametrize(
    "args",
    [(), ({},), ([], b""), ({}, "text"), ({}, bytearray(b"A\0b\0"))],
)
def test_build_refuses_other_arguments(args):
    with pytest.raises(TypeError):
        gateway._environ.build(*args)
