"""Where a project's code must be on sys.path for its app to import, as
users of gunicorn and mod_wsgi-express expect it.

A `django-admin startproject mysite` makes mysite/manage.py beside the
package mysite/mysite/ (settings.py, wsgi.py); wsgi.py sets
DJANGO_SETTINGS_MODULE to "mysite.settings", so the folder that holds the
package (the outer mysite/) must be on sys.path, not the folder of
wsgi.py.  gunicorn users run `gunicorn mysite.wsgi` from that folder;
mod_wsgi-express adds it itself.  The app-spec syntax is loader.py's;
this only says which folder goes first on sys.path.
"""

import os


def package_root(path):
    """The folder holding the outermost package that the file at path is
    part of (each folder up to it has an __init__.py), or None when the
    file is not in a package."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(os.path.join(folder, "__init__.py")):
        return None
    while os.path.isfile(os.path.join(os.path.dirname(folder), "__init__.py")):
        folder = os.path.dirname(folder)
    return os.path.dirname(folder)


def module_root(module, cwd):
    """The folder a dotted module name is found under: cwd when its top
    package or module is there (as `python -m` and gunicorn see it), else
    None."""
    top = module.split(".")[0]
    for candidate in (
        os.path.join(cwd, top, "__init__.py"),
        os.path.join(cwd, top + ".py"),
    ):
        if os.path.isfile(candidate):
            return cwd
    return None


def project_folder(target, cwd):
    """(folder, why) of the folder an app target needs first on sys.path,
    or (None, None): a file inside a package gives the folder holding the
    package; a module found in cwd gives cwd."""
    if target.endswith(".py") or os.sep in target:
        root = package_root(target)
        if root is None:
            return None, None
        top = os.path.relpath(os.path.abspath(target), root).split(os.sep)[0]
        return root, "the folder that holds the package %s" % top
    root = module_root(target, cwd)
    if root is None:
        return None, None
    return root, "the current folder, which holds %s" % target.split(".")[0]
