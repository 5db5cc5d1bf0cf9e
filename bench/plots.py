#!/usr/bin/env python3
"""plots.py -- PNG plots of what `make bench` printed, read back from its logs.

usage: /usr/bin/python3 bench/plots.py OUT_DIR LOG...

Reads the Markdown tables the benchmarks print (never numbers typed in here) and draws:
  spmv-*.png      relative time of y = W . x against the pruning rate for dense, CSR and each
                  grouped G, with the paper's Core i7 points where the table carries them
                  (the paper's Figure 13)
  spmm.png        the same for C = W . B (Figure 14), Eigen's CSR included
  networks.png    per network: our speed-up and size (Scalpel variant) beside the paper's
  cortex-m-*.png  the Cortex-M sweeps (cycles relative to dense) per core and type (Figure 9)
Each table is found by its header row and named by the heading above it. Needs matplotlib
(Debian: python3-matplotlib); without it, says so and exits 0, so the bench still prints its
tables. Exit status 1 when a log holds none of the tables it knows.
"""
import os
import re
import sys


def parse_tables(text):
    """[(heading, header cells, rows of cells)] for every Markdown table in text; the heading is
    the nearest one above, prefixed with the core ("Cortex-M4") named by a heading above it."""
    out, heading, core, lines = [], "", "", text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
            m = re.search(r"Cortex-M[0-9]+", heading)
            if m:
                core = m.group(0)
            heading = (core + ": " if core and core not in heading else "") + heading
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|\s*:?-{3}", lines[i + 1].strip()):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows, i = [], i + 2
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append([c.strip() for c in lines[i].strip().strip("|").split("|")])
                i += 1
            out.append((heading, header, rows))
            continue
        i += 1
    return out


def number(cell):
    """A table cell as a float: '1.482 ms' (in us), '0.952', '**1.04x**', '44.28%'; None if not."""
    c = cell.replace("*", "").strip()
    m = re.match(r"^(-?[0-9.]+)\s*(ms|us|ns|s)?x?%?$", c)
    if not m:
        return None
    v = float(m.group(1))
    unit = m.group(2)
    return v * {"ms": 1e3, "us": 1.0, "ns": 1e-3, "s": 1e6, None: 1.0}[unit]


def rate(cell):
    m = re.match(r"^([0-9.]+)%$", cell.replace("*", "").strip())
    return float(m.group(1)) if m else None


def slug(text):
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:80].strip("-")


def save_rate_plot(plt, fig, ax, heading, ylabel, path):
    """labels, grid, legend and the PNG of a plot against the pruning rate"""
    ax.set_xlabel("pruning rate (%)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(heading, fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_sweep(plt, heading, header, rows, path, dense_name):
    """relative-time curves: columns named 'rel' follow the kernel they belong to"""
    pts = [(rate(r[0]), r) for r in rows if rate(r[0]) is not None]
    if len(pts) < 3:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [p for p, _ in pts]
    ax.plot(xs, [1.0] * len(xs), "k-", label=dense_name)
    for j, name in enumerate(header):
        if name == "rel" and j > 0:
            ys = [number(r[j]) for _, r in pts]
            ax.plot(xs, ys, "o-", ms=3, label=header[j - 1])
        elif name.startswith("paper"):
            pp = [(x, number(r[j])) for x, r in pts if number(r[j]) is not None and number(r[j]) >= 0]
            if pp:
                ax.plot([p[0] for p in pp], [p[1] for p in pp], "x--", ms=5, label=name)
    ax.set_yscale("log")
    return save_rate_plot(plt, fig, ax, heading, "time relative to dense", path)


def plot_cortex(plt, heading, header, rows, path):
    pts = [(rate(r[0]), r) for r in rows if rate(r[0]) is not None]
    if len(pts) < 3:
        return False
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    xs = [p for p, _ in pts]
    ax.plot(xs, [1.0] * len(xs), "k-", label="dense")
    for j, name in enumerate(header[1:], 1):
        if "insns" in name:
            continue
        # the paper's columns have no figure below 30%: its curve starts where its figures do
        xy = [(x, y) for x, y in ((x, number(r[j])) for x, (_, r) in zip(xs, pts)) if y is not None]
        if len(xy) < 3 or (not name.startswith("paper") and len(xy) < len(xs)):
            continue
        ax.plot([x for x, _ in xy], [y for _, y in xy], "x--" if name.startswith("paper") else "o-",
                ms=4, label=name)
    return save_rate_plot(plt, fig, ax, heading, "cycles relative to dense", path)


def plot_networks(plt, nets, path):
    """nets: [(name, our speed-up, our size %, paper speed-up, paper size %)]"""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.4, 3.8))
    x = range(len(nets))
    w = 0.38
    a1.bar([i - w / 2 for i in x], [n[1] for n in nets], w, label="Scalpel, this run")
    a1.bar([i + w / 2 for i in x], [n[3] or 0 for n in nets], w, label="paper (Core i7)")
    a1.set_ylabel("speed-up over dense")
    a2.bar([i - w / 2 for i in x], [n[2] for n in nets], w, label="Scalpel, this run")
    a2.bar([i + w / 2 for i in x], [n[4] or 0 for n in nets], w, label="paper (Core i7)")
    a2.set_ylabel("weight bytes, % of dense")
    for a in (a1, a2):
        a.set_xticks(list(x))
        a.set_xticklabels([n[0] for n in nets], fontsize=8)
        a.grid(True, axis="y", alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plots.py: matplotlib is not installed (Debian: apt-get install python3-matplotlib, "
              "or sh tools/deps.sh bench as root): no plots; the tables above are the results")
        return 0
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    written, nets = [], []
    for log in argv[2:]:
        with open(log, encoding="utf-8", errors="replace") as f:
            tables = parse_tables(f.read())
        for heading, header, rows in tables:
            h0 = header[0] if header else ""
            if h0 == "pruned" and "dense gemv" in header and "rel" in header:
                name = "spmv-2048" if "2048" in heading else "spmv-4096" if ("4096" in heading or "Figure 13" in heading) else "spmv-" + slug(heading)
                if plot_sweep(plt, heading, header, rows, os.path.join(out, name + ".png"), "dense gemv"):
                    written.append(name + ".png")
            elif h0 == "pruned" and "dense gemm" in header and "rel" in header:
                if plot_sweep(plt, heading, header, rows, os.path.join(out, "spmm.png"), "dense gemm"):
                    written.append("spmm.png")
            elif h0 == "rate" and (any("cycles" in c for c in header) or "cycles" in heading):
                short = re.sub(r",? ?backend [\w-]+:?|,? ?estimated cycles.*$", "", heading)
                name = slug(short) if short.lower().startswith("cortex") else "cortex-m-" + slug(short)
                if plot_cortex(plt, heading, header, rows, os.path.join(out, name + ".png")):
                    written.append(name + ".png")
            elif h0 == "variant" and "speed-up" in header:
                col = {c: j for j, c in enumerate(header)}
                for r in rows:
                    if r[0] == "Scalpel" and "% of dense" in col:
                        ps = number(r[col["paper i7 speed-up"]]) if "paper i7 speed-up" in col else None
                        pz = number(r[col["paper i7 size"]]) if "paper i7 size" in col else None
                        nets.append((heading, number(r[col["speed-up"]]), number(r[col["% of dense"]]), ps, pz))
    if nets:
        plot_networks(plt, nets, os.path.join(out, "networks.png"))
        written.append("networks.png")
    if not written:
        print("plots.py: no table it knows in " + ", ".join(argv[2:]), file=sys.stderr)
        return 1
    print("plots.py: wrote " + ", ".join(os.path.join(out, w) for w in written))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
