"""Build of pywsgi-embed: the cffi gateway library with its check command
(pywsgi-check, see pywsgi_embed/_build.py), and the nginx and Apache
modules where their development files are installed.

The modules are built by each server's own script (nginx-module/build.sh,
apache-module/build.sh) into pywsgi_embed/modules/, next to the gateway
library they load.  A server whose dev files are missing stops the build
with what to install: pip shows a build's output only when it fails, so a
note would go unseen and the user would find out at `serve`.  To install
without a module on purpose, name its server in PYWSGI_EMBED_SKIP
(PYWSGI_EMBED_SKIP=apache, or nginx,apache for the gateway alone).
"""

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig

import setuptools
from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))


class Module:
    """How one server's module is built, and what it needs."""

    def __init__(self, server, script, probes, packages):
        self.server = server
        self.script = os.path.join(HERE, script)
        self.probes = probes  # files or commands that must all exist
        self.packages = packages  # the Debian packages that provide them

    def available(self):
        return all(
            os.path.exists(probe)
            if os.path.isabs(probe)
            else shutil.which(probe) is not None
            for probe in self.probes
        )

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
        ["/usr/share/nginx/src/conf_flags", "nginx"],
        "nginx nginx-dev",
    ),
    Module(
        "apache", "apache-module/build.sh", ["apxs"], "apache2 apache2-dev"
    ),
]


def skipped_servers():
    names = os.environ.get("PYWSGI_EMBED_SKIP", "")
    skipped = {n.strip() for n in names.split(",") if n.strip()}
    unknown = skipped - {m.server for m in MODULES}
    if unknown:
        sys.exit(
            "pywsgi-embed: PYWSGI_EMBED_SKIP names no server %s (nginx, "
            "apache)" % ", ".join(sorted(unknown))
        )
    return skipped


def check_dev_files():
    """The modules to build; exit with what to install if one cannot be
    built and was not skipped on purpose."""
    skipped = skipped_servers()
    wanted = [m for m in MODULES if m.server not in skipped]
    missing = [m for m in wanted if not m.available()]
    if missing:
        sys.exit(
            "pywsgi-embed: cannot build the %s module%s: install %s "
            "(apt-get install %s), or set PYWSGI_EMBED_SKIP=%s to install "
            "pywsgi-embed without %s"
            % (
                " and the ".join(m.server for m in missing),
                "s" if len(missing) > 1 else "",
                " and ".join(m.packages for m in missing),
                " ".join(m.packages for m in missing),
                ",".join(m.server for m in missing),
                "them" if len(missing) > 1 else "it",
            )
        )
    return wanted


def build_check(pkgdir):
    """pywsgi-check beside the gateway library: _build.py is read by its
    path, as cffi_modules reads it (the package is not importable yet)."""
    path = os.path.join(HERE, "pywsgi_embed", "_build.py")
    spec = importlib.util.spec_from_file_location("_pywsgi_build", path)
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    builder.build_check(pkgdir)


class build_ext_and_modules(build_ext):
    """build_ext (the cffi gateway library), the check command, then the
    server modules."""

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
        modules = check_dev_files()  # before the long gateway compile
        super().run()
        base = HERE if self.inplace else self.build_lib
        build_check(os.path.join(base, "pywsgi_embed"))
        outdir = os.path.join(base, "pywsgi_embed", "modules")
        os.makedirs(outdir, exist_ok=True)
        gateway_file = "_gateway" + sysconfig.get_config_var("EXT_SUFFIX")
        for module in modules:
            module.build(outdir, gateway_file)


def license_metadata():
    """MIT, in the form this setuptools takes without a deprecation: an
    SPDX expression from 77 on (PEP 639), the License field before."""
    major = int(setuptools.__version__.split(".")[0])
    if major >= 77:
        return {"license_expression": "MIT"}
    return {"license": "MIT"}


setup(
    **license_metadata(),
    cffi_modules=["pywsgi_embed/_build.py:ffibuilder"],
    cmdclass={"build_ext": build_ext_and_modules},
)
