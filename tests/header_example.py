#!/usr/bin/env python3
"""Extract the compilable example from the top comment of a header (the lines after
"A complete program" up to the closing brace of main) and write it to a .c file, so that
`make test` checks that the documentation compiles and runs.

usage: header_example.py HEADER OUT.c
"""
import sys


def main():
    header, out = sys.argv[1], sys.argv[2]
    lines = open(header, encoding="utf-8").read().splitlines()
    start = next((i for i, l in enumerate(lines) if "A complete program" in l or "A complete example" in l), None)
    if start is None:
        sys.exit("header_example.py: no 'A complete program' example in %s" % header)
    code = []
    for l in lines[start + 1:]:
        if not l.startswith(" *"):
            break
        text = l[2:]
        if text.startswith("     "):
            text = text[5:]
        elif text.strip() == "":
            text = ""
        else:
            if code:
                break
            continue
        code.append(text)
        if text == "}":
            break
    if not code or code[-1] != "}":
        sys.exit("header_example.py: the example in %s does not end with a closing brace" % header)
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(code) + "\n")


if __name__ == "__main__":
    main()
