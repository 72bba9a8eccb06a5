"""The CGI target of the HTTP suite: the real Apache with mod_cgid running
`pywsgi-embed cgi` for each request (pywsgi_embed/cgi.py), the test app
at /app (SCRIPT_NAME "/app") and at the root (SCRIPT_NAME ""), as the
module targets mount it.

mod_pywsgi is loaded for PyWSGIRunAsRoot only (no PyWSGIApp): the CGI
processes keep root, as the module targets' children do, so a Python
under /root stays readable.
"""

import os
import sys

from tests import harness

HERE = os.path.dirname(os.path.abspath(__file__))
MOD_CGID = "/usr/lib/apache2/modules/mod_cgid.so"
MOD_ALIAS = "/usr/lib/apache2/modules/mod_alias.so"

SCRIPT = """\
#!/bin/sh
exec %(python)s -m pywsgi_embed cgi %(app)s
"""


def start(app, workdir, **options):
    """A running Apache serving app through CGI (harness.Running)."""
    os.makedirs(workdir, exist_ok=True)
    script = os.path.join(workdir, "app.cgi")
    with open(script, "w") as f:
        f.write(SCRIPT % {"python": sys.executable, "app": app})
    os.chmod(script, 0o755)
    run = os.path.join(workdir, "run")
    os.makedirs(run, exist_ok=True)
    extra = "\n".join(
        [
            "<IfModule !cgid_module>",
            "    LoadModule cgid_module %s" % MOD_CGID,
            "</IfModule>",
            "<IfModule !alias_module>",
            "    LoadModule alias_module %s" % MOD_ALIAS,
            "</IfModule>",
            'ScriptSock "%s"' % os.path.join(run, "cgid.sock"),
            # the first alias that matches wins: /app before the root
            'ScriptAlias /app "%s"' % script,
            'ScriptAliasMatch "^(/.*)?$" "%s$1"' % script,
            "<Directory %s>" % workdir,
            "    Require all granted",
            "</Directory>",
        ]
    )
    return harness.start("apache", [], workdir, extra_config=extra, **options)
