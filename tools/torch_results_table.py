#!/usr/bin/env python3
"""torch_results_table.py OUT - the Markdown tables of tools/torch_results.sh's summaries
(OUT/*.json, written by examples/prune_torch.py): one row per run."""
import json
import sys
from pathlib import Path


def pct(v):
    return f"{100 * v:.2f}%"


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    runs = []
    for p in sorted(out.glob("*.json")):
        try:
            r = json.loads(p.read_text())
            # a run's --tag (the file name past NET-DATA-HW) is shown beside its profile
            r["_tag"] = p.stem[len(f"{r['net']}-{r['data']}-{r['hw']}"):].lstrip("-")
            runs.append(r)
        except (OSError, ValueError) as e:
            print(f"torch_results_table: {p}: {e}", file=sys.stderr)
            return 1
    if not runs:
        print(f"torch_results_table: no summaries in {out}", file=sys.stderr)
        return 1
    print("| network (data) | profile | procs x threads | dense error | pruned error | weights gone | "
          "weight bytes | speed-up here (float) | Cortex-M4 q15: cycles dense -> pruned, pruned q15 error | "
          "nodes kept | epochs (images each) | pruning wall time |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in runs:
        wb = r.get("weight_bytes", {})
        size = f"{wb['pruned']} ({100 * wb['pruned'] / wb['dense']:.1f}%)" if wb.get("dense") and wb.get("pruned") \
            else "-"
        b = r.get("bench", {})
        here = f"{b['speedup']:.2f}x ({b['dense_us']:.1f} -> {b['pruned_us']:.1f} us)" if b else "-"
        m4 = r.get("cortex_m4")
        if not m4:
            m4s = "-"
        elif "error" in m4:
            m4s = "not measured: " + m4["error"].replace("|", "/")[:120]
        else:
            m4s = f"{m4['dense']['cyc']} -> {m4['pruned']['cyc']} ({m4['speedup']:.2f}x), {m4['pruned']['qerr']}%"
        nodes = ", ".join(f"{r['nodes'][k]}/{r['nodes_before'][k]}" for k in r["nodes"]) if r.get("nodes") else "-"
        hw = r["hw"] + (f" ({r['_tag']})" if r["_tag"] else "")
        print(f"| {r['net']} ({r['data']}) | {hw} | {r['processes']} x {r['threads']} | {pct(r['dense_error'])} | "
              f"{pct(r['error'])} ({100 * (r['error'] - r['dense_error']):+.2f}) | {pct(r['rate'])} | {size} | {here} | "
              f"{m4s} | {nodes} | {r['epochs']} ({r['train_subset']}) | {r['prune_s']:.0f} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
