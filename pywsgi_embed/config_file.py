"""`--config FILE`: the options of a command in a TOML file, with the same
keys as the long options (`port = 8080`, `access-log = "-"`, `python_path
= ["src"]`) and `app` for APP.  Each value goes through the option's own
check, so a file is refused for the same reasons as a command line, with
the file and the key in the message.  Options given on the command line
win over the file; repeatable ones add to its list.

TOML is read with tomllib (Python 3.11 and later) or its backport tomli,
a dependency of pywsgi-embed on 3.9 and 3.10.
"""

import argparse

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib


class ConfigFileError(Exception):
    """The file cannot be used; str() names the file and the reason."""


def read(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise ConfigFileError("%s: %s" % (path, exc.strerror)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError("%s: not TOML: %s" % (path, exc)) from None


def options_by_key(parser):
    """{key: action} of the options a file may set for this parser."""
    keys = {}
    for action in parser._actions:
        if (
            action.dest in ("help", "config")
            or action.help is argparse.SUPPRESS
        ):
            continue
        keys[action.dest] = action
    return keys


def convert(action, value):
    """value as the command line would have given it, checked alike."""
    if isinstance(action, argparse._StoreTrueAction):
        if not isinstance(value, bool):
            raise ValueError("true or false, not %r" % (value,))
        return value
    if isinstance(action, argparse._AppendAction):
        values = value if isinstance(value, list) else [value]
        return [convert_one(action, v) for v in values]
    return convert_one(action, value)


def convert_one(action, value):
    if isinstance(value, (dict, list, bool)):
        raise ValueError("a single value, not %r" % (value,))
    text = str(value)
    result = action.type(text) if action.type else text
    if action.choices is not None and result not in action.choices:
        raise ValueError(
            "%r is not one of %s"
            % (result, ", ".join(map(str, action.choices)))
        )
    return result


def defaults(path, parser):
    """The file's values as parser defaults: {dest: value}."""
    keys = options_by_key(parser)
    values = {}
    for key, value in read(path).items():
        dest = key.replace("-", "_")
        action = keys.get(dest)
        if action is None:
            refused = [
                a
                for a in parser._actions
                if a.dest == dest and a.option_strings
            ]
            raise ConfigFileError(
                "%s: %s is not an option of %s%s"
                % (
                    path,
                    key,
                    parser.prog,
                    " (your server's own config sets it)" if refused else "",
                )
            )
        try:
            values[dest] = convert(action, value)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            raise ConfigFileError("%s: %s: %s" % (path, key, exc)) from None
    return values
