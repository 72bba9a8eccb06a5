"""Build of pywsgi-embed: the cffi gateway library, and the nginx and Apache
modules where their development files are installed.

The modules are built by each server's own script (nginx-module/build.sh,
apache-module/build.sh) into pywsgi_embed/modules/, next to the gateway
library they load.  A server whose dev files are missing is skipped with a
note saying what to install; set PYWSGI_EMBED_REQUIRE=nginx,apache to make
that an error instead (the Makefile does).
"""

import os
import shutil
import subprocess
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


class Module:
    """How one server's module is built, and what it needs."""

    def __init__(self, server, script, probe, package):
        self.server = server
        self.script = os.path.join(HERE, script)
        self.probe = probe  # a file or a command that must exist
        self.package = package  # the Debian package that provides it

    def available(self):
        if os.path.isabs(self.probe):
            return os.path.exists(self.probe)
        return shutil.which(self.probe) is not None

    def build(self, outdir, gateway_file):
        if not os.path.exists(self.script):
            sys.exit(
                "pywsgi-embed: %s is missing from this source tree"
                % self.script
            )
        builddir = os.path.join(HERE, "build", self.server)
        subprocess.check_call(
            ["bash", self.script, outdir, gateway_file, builddir]
        )


MODULES = [
    Module(
        "nginx",
        "nginx-module/build.sh",
        "/usr/share/nginx/src/conf_flags",
        "nginx-dev",
    ),
    Module("apache", "apache-module/build.sh", "apxs", "apache2-dev"),
]


def required_servers():
    names = os.environ.get("PYWSGI_EMBED_REQUIRE", "")
    return {n.strip() for n in names.split(",") if n.strip()}


class build_ext_and_modules(build_ext):
    """build_ext (the cffi gateway library), then the server modules."""

    def copy_file(self, src, dst, *args, **kwargs):
        # In-place builds (pip install -e .) copy the library into the
        # checkout: write a new file and rename it, because copying over the
        # old one would truncate it under servers that have it mapped.
        if not self.inplace:
            return super().copy_file(src, dst, *args, **kwargs)
        tmp = dst + ".tmp%d" % os.getpid()
        shutil.copyfile(src, tmp)
        shutil.copymode(src, tmp)
        os.replace(tmp, dst)
        return dst, 1

    def run(self):
        super().run()
        base = HERE if self.inplace else self.build_lib
        outdir = os.path.join(base, "pywsgi_embed", "modules")
        os.makedirs(outdir, exist_ok=True)
        gateway_file = "_gateway" + sysconfig.get_config_var("EXT_SUFFIX")
        required = required_servers()
        for module in MODULES:
            if module.available():
                module.build(outdir, gateway_file)
            elif module.server in required:
                sys.exit(
                    "pywsgi-embed: cannot build the %s module: %s is not "
                    "installed (apt-get install %s)"
                    % (module.server, module.package, module.package)
                )
            else:
                print(
                    "pywsgi-embed: skipping the %s module: install %s to "
                    "build it" % (module.server, module.package)
                )


setup(
    cffi_modules=["pywsgi_embed/_build.py:ffibuilder"],
    cmdclass={"build_ext": build_ext_and_modules},
)
