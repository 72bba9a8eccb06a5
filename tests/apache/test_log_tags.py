"""mod_pywsgi's log tags (apache-module/mod_pywsgi.h): every ap_log_*()
call carries an APLOGNO of 90000-90999 and none repeats (a lint of the
sources); a real Apache whose app cannot be imported writes the tag of
that message in its log."""

import glob
import os
import re

import pytest

from tests import harness
from tests.apache.conftest import APP, wait_until

SOURCES = os.path.join(os.path.dirname(harness.APPS), "..", "apache-module")
CALL = re.compile(r"\bap_log_\w*error\s*\(")
TAG = re.compile(r"[^\"]*APLOGNO\((\d+)\)")  # before the format string
COMMENT = re.compile(r"/\*.*?\*/", re.S)

# the tags of the messages of an app that cannot be imported
CHECK_FAILED = "AH90003"  # mod_pywsgi_check.c, at config time
LINES_HEAD = "AH90005"  # mod_pywsgi_child.c init_app(): a child's head
LINES_MORE = "AH90006"  # line, then log_lines(), one a traceback line


def test_every_log_call_has_its_own_tag():
    tags = []
    for path in sorted(glob.glob(os.path.join(SOURCES, "*.[ch]"))):
        with open(path) as f:
            text = COMMENT.sub("", f.read())
        for call in CALL.finditer(text):
            tag = TAG.match(text, call.end())
            assert tag, "%s: %s has no APLOGNO" % (
                os.path.basename(path),
                text[call.start() : text.index(";", call.start())],
            )
            tags.append(int(tag.group(1)))
    assert len(tags) >= 19
    assert all(90000 <= n <= 90999 for n in tags), tags
    repeated = sorted({n for n in tags if tags.count(n) > 1})
    assert not repeated, repeated


def bad_app(tmp_path, once=False):
    """An app whose import raises; once: only from its second import on
    (the config-time check imports it first, then each child)."""
    mark = tmp_path / "imported-once"
    path = tmp_path / "bad_app.py"
    path.write_text(
        "import os\n\n\ndef helper():\n"
        "    raise ValueError('cannot start here')\n\n\n"
        "if %s: helper()\n"
        "open(%r, 'w').close()\n\n\ndef application(e, s):\n    pass\n"
        % ("os.path.exists(%r)" % str(mark) if once else "True", str(mark))
    )
    return path


def test_a_childs_failed_import_is_logged_with_its_tags(apache, tmp_path):
    bad = bad_app(tmp_path, once=True)
    srv = apache({"/bad": str(bad), "/": APP})
    assert wait_until(
        lambda: "ValueError: cannot start here" in srv.error_log()
    )
    lines = srv.error_log().splitlines()
    (head,) = [line for line in lines if "cannot be loaded" in line]
    assert "[pywsgi:crit]" in head
    assert "%s: PyWSGIApp /bad %s" % (LINES_HEAD, bad) in head
    (last,) = [line for line in lines if "ValueError: cannot" in line]
    assert "%s: ValueError: cannot start here" % LINES_MORE in last


def test_a_failed_import_at_config_time_is_logged_with_its_tag(tmp_path):
    bad = bad_app(tmp_path)
    with pytest.raises(harness.ServerFailed) as failed:
        harness.start("apache", {"/": str(bad)}, str(tmp_path / "srv"))
    (line,) = [
        line
        for line in str(failed.value).splitlines()
        if "cannot be loaded" in line
    ]
    assert line.startswith("%s: PyWSGIApp / %s" % (CHECK_FAILED, bad))
