"""What bench/nginx_profile.py and bench/apache_profile.py share: the
keep-alive client, callgrind_annotate's output read into {function:
instructions}, two runs differenced into a cost per request, and the
grouping of functions by the object they ran in."""

import collections
import re
import socket
import subprocess
import sys


def keepalive_gets(port, path, count, body=None):
    """count GETs of path on one keep-alive connection, each answered 200
    (and with body, when given)."""
    request = ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        reader = sock.makefile("rb")
        for _ in range(count):
            sock.sendall(request)
            status = reader.readline()
            if b" 200 " not in status:
                sys.exit("%s answered %r" % (path, status))
            length = 0
            for line in iter(reader.readline, b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            got = reader.read(length)
            if body is not None and got != body:
                sys.exit("%s answered another body: %r" % (path, got))


def annotate(dump, inclusive="no"):
    """callgrind_annotate's table of a dump, one line a function."""
    return subprocess.run(
        [
            "callgrind_annotate",
            "--inclusive=" + inclusive,
            "--threshold=100",
            "--auto=no",  # annotated source lines would count twice
            dump,
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout


ROW = re.compile(r"^\s*([0-9,]+) \(\s*[0-9.]+%\)\s+(\S.*)$", re.M)


def by_function(text):
    """{function line: instructions}"""
    return {
        name: int(ir.replace(",", ""))
        for ir, name in ROW.findall(text)
        if "PROGRAM TOTALS" not in name
    }


def per_request(small, large, count):
    """{function: instructions per request}: the annotated tables of a
    short and a long run (count requests more) differenced, so that
    start-up and exit cancel out."""
    a, b = by_function(small), by_function(large)
    return {
        name: (b.get(name, 0) - a.get(name, 0)) / count
        for name in set(a) | set(b)
    }


def function_of(name):
    """ "file:function [object]" -> function"""
    return name.split(" [", 1)[0].rsplit(":", 1)[-1]


class Groups:
    """Functions grouped by the object they ran in (objects: (group,
    marker in the object's path), first match wins); a function line
    without its object (inlined from a header, or an object without
    symbols) takes the object of the same function's other lines, else
    its source file's (sources: (group, marker in the file's path))."""

    def __init__(self, objects, sources):
        self.objects = objects
        self.sources = sources
        self.names = [g for g, _ in objects] + ["other"]

    def of(self, name, known):
        if name.endswith("]"):
            where, markers = name.rsplit("[", 1)[-1], self.objects
        elif function_of(name) in known:
            return known[function_of(name)]
        else:
            where, markers = name.split(":", 1)[0], self.sources
        for group, marker in markers:
            if marker in where:
                return group
        return "other"

    def of_profile(self, profile):
        """{function line: group} of a profile."""
        known = {
            function_of(name): self.of(name, {})
            for name in profile
            if name.endswith("]")
        }
        return {name: self.of(name, known) for name in profile}

    def sums(self, profile):
        """{group: instructions} of a profile."""
        sums = collections.Counter()
        for function, group in self.of_profile(profile).items():
            sums[group] += profile[function]
        return sums

    def print_table(self, profiles):
        """One row a contender, one column a group, and the total."""
        print("| | " + " | ".join(self.names) + " | total |")
        print("|---" * (len(self.names) + 2) + "|")
        for name, profile in profiles.items():
            sums = self.sums(profile)
            cells = ["%.0f" % sums[g] for g in self.names]
            print(
                "| %s | %s | %.0f |"
                % (name, " | ".join(cells), sum(sums.values()))
            )

    def print_functions(self, title, profile, wanted, top):
        """The top functions of the groups wanted."""
        rows = [
            (profile[function], function)
            for function, group in self.of_profile(profile).items()
            if group in wanted
        ]
        rows.sort(reverse=True)
        print("\n%s" % title)
        for ir, function in rows[:top]:
            if round(ir):
                print("%8.0f  %s" % (ir, function.split(" [", 1)[0][:90]))
