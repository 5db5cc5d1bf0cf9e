#!/usr/bin/env python3
"""gen_q_tables.py - the sigmoid and tanh tables of the fixed-point kernels (scalpel_kernels.h).

    /usr/bin/python3 tools/gen_q_tables.py          # prints the C arrays
    /usr/bin/python3 tools/gen_q_tables.py --check scalpel_kernels.h

Each table holds f(k / 32) * 32768 rounded half up, for k = 0 .. 512: the function on [0, 16]
in Q15 (32768 stands for 1.0, which only the interpolation's end points reach). The kernels
interpolate linearly between entries and use the symmetry of each function for negative
inputs. The library has no libm, so the values live in the header; --check recomputes them
and fails when the header's differ (the test suite runs it).
"""
import math
import re
import sys

N = 512          # intervals over [0, 16]: a step of 1/32
STEP = 16.0 / N


def table(f):
    return [int(math.floor(f(k * STEP) * 32768.0 + 0.5)) for k in range(N + 1)]


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


TABLES = {"scalpel__q_sigmoid_table": table(sigmoid), "scalpel__q_tanh_table": table(math.tanh)}


def c_array(name, values):
    lines = [f"static const uint16_t {name}[{len(values)}] = {{"]
    for i in range(0, len(values), 12):
        lines.append("    " + ", ".join(str(v) for v in values[i:i + 12]) + ("," if i + 12 < len(values) else ""))
    lines.append("};")
    return "\n".join(lines)


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        text = open(argv[2], encoding="utf-8").read()
        bad = 0
        for name, values in TABLES.items():
            m = re.search(r"static const uint16_t " + name + r"\[(\d+)\] = \{([^}]*)\};", text)
            if not m:
                print(f"{argv[2]}: {name} not found")
                bad += 1
                continue
            got = [int(v) for v in m.group(2).replace("\n", " ").split(",") if v.strip()]
            if got != values:
                print(f"{argv[2]}: {name} differs from the recomputed table")
                bad += 1
            else:
                print(f"{name}: {len(values)} entries match")
        return 1 if bad else 0
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[2].strip(), file=sys.stderr)
        return 2
    for name, values in TABLES.items():
        print(c_array(name, values))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
