#!/usr/bin/env python3
"""amalgamate.py -- write dist/scalpel.h, all of Scalpel in one header.

usage:
    python3 amalgamate.py              write dist/scalpel.h
    python3 amalgamate.py -o PATH      write PATH instead ("-" for stdout)
    python3 amalgamate.py --check      only check that every header is there and that the
                                       includes form no cycle; write nothing

The headers are inlined once each, taken in dependency order: scalpel_format.h,
scalpel_kernels.h, scalpel.h, then scalpel_train.h when it exists. A project include
(`#include "scalpel.h"` or `#include "scalpel_<module>.h"`, outside comments) is dropped; where
it names a header not inlined yet, that header's text goes in its place, so every header comes
before the first code that includes it. `#include <...>` lines stay as they are; any other
quoted include stays too, with a warning (it will not be found next to dist/scalpel.h). Nothing
else is rewritten: the output is the headers' own text (a missing final newline added), with a
stamp (version, git commit, "-dirty" when the tree has uncommitted changes) on top and a comment
marking where each header begins and ends. A scalpel_*.h that none of them includes gets a
warning. Use the result exactly like the separate headers.

Exit status: 0 on success (warnings included), 1 if a header is missing or the includes form a
cycle.
Needs only the Python 3 standard library (and git, for the commit; "unknown" without it).
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))

# The order the headers are taken in: dependencies first, so that a header's own project
# includes normally name headers already inlined (one that does not is inlined at the include).
HEADERS = ["scalpel_format.h", "scalpel_kernels.h", "scalpel.h"]
OPTIONAL_HEADERS = ["scalpel_train.h"]  # inlined when the file exists

# `#include "scalpel.h"` or `#include "scalpel_<module>.h"`, with an optional trailing comment
PROJECT_INCLUDE = re.compile(
    r'^\s*#\s*include\s*"(scalpel(?:_\w+)?\.h)"\s*(?://.*|/\*.*\*/\s*)?$')
OTHER_QUOTED_INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


class AmalgamationError(Exception):
    pass


def read_lines(name):
    """The header's lines, line endings kept, so the output matches the input byte for byte
    (except that a missing final newline is added)."""
    with open(os.path.join(ROOT, name), encoding="utf-8", newline="") as f:
        text = f.read()
    if text and not text.endswith("\n"):
        text += "\n"
    return text.splitlines(keepends=True)


def code_lines(lines):
    """Yield (line, starts_in_code): whether the line begins outside a /* */ comment.

    Only such lines can be preprocessing directives; this keeps the `#include "scalpel.h"`
    in a header's USAGE comment where it is. Strings and character literals are skipped so
    that a "/*" inside one does not open a comment."""
    in_comment = False
    for line in lines:
        yield line, not in_comment
        i, n, quote = 0, len(line), None
        while i < n:
            c = line[i]
            if in_comment:
                if line.startswith("*/", i):
                    in_comment, i = False, i + 2
                    continue
            elif quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif line.startswith("/*", i):
                in_comment, i = True, i + 2
                continue
            elif line.startswith("//", i):
                break
            elif c in "\"'":
                quote = c
            i += 1


class Amalgamator:
    def __init__(self):
        self.done = []   # headers inlined so far, in output order
        self.stack = []  # headers being inlined right now (to detect cycles)
        self.out = []
        self.warnings = []

    def inline(self, name, included_from=None):
        if name in self.stack:
            cycle = self.stack[self.stack.index(name):] + [name]
            raise AmalgamationError("include cycle: " + " -> ".join(cycle))
        if not os.path.isfile(os.path.join(ROOT, name)):
            where = f" (included from {included_from})" if included_from else ""
            raise AmalgamationError(f"missing header: {name}{where}")
        self.stack.append(name)
        self.out.append(f"/* ======== begin {name} ======== */\n")
        for line, is_code in code_lines(read_lines(name)):
            m = PROJECT_INCLUDE.match(line) if is_code else None
            if m:
                dep = m.group(1)
                if dep not in self.done:
                    self.inline(dep, included_from=name)  # its text goes where the include was
                continue  # the include line itself is dropped
            if is_code:
                other = OTHER_QUOTED_INCLUDE.match(line)
                if other:
                    self.warnings.append(
                        f'{name}: #include "{other.group(1)}" is kept but will not be found '
                        "next to dist/scalpel.h")
            self.out.append(line)
        self.out.append(f"/* ======== end {name} ======== */\n")
        self.stack.pop()
        self.done.append(name)

    def run(self):
        headers = HEADERS + [h for h in OPTIONAL_HEADERS if os.path.isfile(os.path.join(ROOT, h))]
        for name in headers:
            if name not in self.done:
                self.inline(name)
        return headers


def version():
    """SCALPEL_VERSION_STRING from scalpel_format.h, or MAJOR.MINOR.PATCH, or "unknown"."""
    try:
        text = "".join(read_lines("scalpel_format.h"))
    except OSError:
        return "unknown"
    m = re.search(r'^\s*#\s*define\s+SCALPEL_VERSION_STRING\s+"([^"]*)"', text, re.M)
    if m:
        return m.group(1)
    parts = [re.search(rf"^\s*#\s*define\s+SCALPEL_VERSION_{p}\s+(\d+)", text, re.M)
             for p in ("MAJOR", "MINOR", "PATCH")]
    return ".".join(p.group(1) for p in parts) if all(parts) else "unknown"


def git_commit(headers):
    """Short commit hash, "-dirty" when a tracked file differs from it or an inlined header is
    not committed yet; "unknown" outside git (or before the first commit)."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout
    try:
        sha = git("rev-parse", "--short", "HEAD").strip()
        status = git("status", "--porcelain", "--untracked-files=all").splitlines()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    dirty = any(not line.startswith("??") or line[3:].strip('"') in headers for line in status)
    return sha + ("-dirty" if dirty else "")


def stamp(headers):
    return (f"/* scalpel.h -- Scalpel {version()}, all headers in one file (git {git_commit(headers)}).\n"
            f" * Generated by amalgamate.py from {', '.join(headers)}; edit those, not this.\n"
            " * Use it exactly like the separate headers: #define SCALPEL_IMPLEMENTATION before\n"
            " * including it in one C or C++ file. */\n")


def write(path, text):
    if path == "-":
        sys.stdout.write(text)
        return
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)  # never leave a half-written header behind


def main():
    ap = argparse.ArgumentParser(description="Write Scalpel's single-file header.")
    ap.add_argument("-o", dest="output", default=os.path.join(ROOT, "dist", "scalpel.h"),
                    help="output path (default: dist/scalpel.h; - for stdout)")
    ap.add_argument("--check", action="store_true",
                    help="check for missing headers and include cycles; write nothing")
    args = ap.parse_args()

    amalgamator = Amalgamator()
    try:
        headers = amalgamator.run()
    except AmalgamationError as e:
        print(f"amalgamate.py: {e}", file=sys.stderr)
        return 1
    for w in amalgamator.warnings:
        print(f"amalgamate.py: warning: {w}", file=sys.stderr)
    inlined = amalgamator.done
    unused = sorted(f for f in os.listdir(ROOT)
                    if re.fullmatch(r"scalpel(_\w+)?\.h", f) and f not in inlined)
    for f in unused:
        print(f"amalgamate.py: warning: {f} is not included by any amalgamated header",
              file=sys.stderr)

    if args.check:
        print(f"amalgamate.py: ok: {' '.join(inlined)}", file=sys.stderr)
        return 0
    text = stamp(inlined) + "".join(amalgamator.out)
    write(args.output, text)
    if args.output != "-":
        print(f"amalgamate.py: wrote {os.path.relpath(args.output)} "
              f"({len(text.splitlines())} lines: {' '.join(inlined)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
