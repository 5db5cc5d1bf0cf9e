#!/usr/bin/env python3
"""torch_models.py -- the reference networks whole, ours against PyTorch: batch 1, one thread.

usage: /usr/bin/python3 bench/torch_models.py [--bin PATH] [--dir DIR] [--net NAME ...] [--layers]

For every network of examples/reference_nets.h (or the --net ones):
  1. bench_models --save DIR --net NAME writes the model file NAME.scpn, a fixed input
     NAME.in.npy and the C library's output for it NAME.out.npy (from the saved file);
  2. scalpel.to_torch(NAME.scpn) is the same network in PyTorch (python/scalpel: every layer kind
     with torch's own operators); its output on NAME.in.npy must agree with the C output
     (max |torch - ours| / max |ours| <= 1e-4; for a network ending in a softmax also the
     softmax's input, NAME.logits.npy, since random weights can saturate the softmax), so both
     sides compute the same function;
  3. the two are timed interleaved: `bench_models --model NAME.scpn --serve` runs in a child
     process and answers each "time" with one untimed and one timed loop of >= BENCH_MIN_MS
     (scalpel_net_forward, batch 1); between two answers this process runs one untimed and one
     timed loop of >= BENCH_MIN_MS of the torch module (torch.set_num_threads(1),
     torch.inference_mode(), float32, input [1, C, H, W]); which side goes first alternates per
     round. Each side's time is the median over BENCH_REPEATS rounds (default 11), after a
     warm-up.
Prints two Markdown tables: ours against PyTorch (goal: ours faster), and the four MLPerf Tiny
models (dense time, weight bytes, workspace bytes, MACs). --layers adds, per network, a table
of per-layer times: ours from `bench_models --layers` (each layer alone as a one-layer
network, a conv / fc with the ReLU fused into it), PyTorch's from the module's operator for
each layer (python/scalpel apply_layer) on its own input.

The PyTorch side is python/scalpel's reference module run eagerly: what an imported model costs
in plain PyTorch (its convolutions pad with F.pad before F.conv2d; the module keeps every
tensor of the pass). Exit status 1 when torch or the C program is missing, when a network's
outputs disagree, or when a child fails: never a silent skip.

Settings (environment): BENCH_REPEATS (odd, default 11), BENCH_MIN_MS (default 20).
"""
import argparse
import os
import platform
import re
import subprocess
import sys
import time

# One thread everywhere, set before numpy and torch load their BLAS: Debian's torch calls the
# system BLAS (OpenBLAS), whose own thread pool torch.set_num_threads does not govern; left alone
# it runs a second thread (not a one-thread comparison) and, on a busy machine, its spinning
# threads made one 16 -> 16 3x3 convolution ten times slower (1.3 ms instead of 0.12 ms).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[_var] = "1"

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "python"))

NETS = ["ds-cnn", "mobilenet-v1", "resnet-8", "autoencoder", "convnet", "nin", "alexnet", "lenet-5"]
TINY = ["ds-cnn", "mobilenet-v1", "resnet-8", "autoencoder"]
CHECK_TOL = 1e-4


def fail(msg):
    print("torch_models: " + msg, file=sys.stderr)
    sys.exit(1)


try:
    import numpy as np
except ImportError:
    fail("numpy is missing (Debian: apt-get install python3-numpy)")
try:
    import torch
except ImportError:
    fail("PyTorch is missing: the comparison needs it (Debian: apt-get install python3-torch, or "
         "pip install torch); nothing was measured")
import scalpel  # noqa: E402  (python/scalpel, after the path above)


def env_int(name, default, lo, hi):
    try:
        v = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return max(lo, min(hi, v))


REPEATS = env_int("BENCH_REPEATS", 11, 1, 21) | 1
MIN_S = env_int("BENCH_MIN_MS", 20, 1, 1000) / 1000.0


class Ours:
    """bench_models --serve on one model file: one child process, one line per timed loop."""

    def __init__(self, binary, model):
        self.p = subprocess.Popen([binary, "--model", model, "--serve"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self.p.stdout.readline()
        if not line.startswith("ready"):
            self.close()
            fail(f"{binary} --serve {model}: no 'ready' line (got {line!r})")
        self.iters = int(re.search(r"iters=(\d+)", line).group(1))

    def time(self):
        self.p.stdin.write("time\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        m = re.match(r"ms=([0-9.eE+-]+)", line)
        if not m:
            self.close()
            fail(f"the C timing server answered {line!r}")
        return float(m.group(1)) / 1e3

    def close(self):
        try:
            self.p.stdin.write("quit\n")
            self.p.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass
        self.p.wait(timeout=60)
        if self.p.returncode not in (0, None):
            fail(f"the C timing server exited with {self.p.returncode}")


class Theirs:
    """the torch module, timed like the C side: a loop of >= MIN_S, untimed then timed"""

    def __init__(self, module, x):
        self.m, self.x = module, x
        with torch.inference_mode():
            for _ in range(3):
                self.m(self.x)                       # warm-up: allocator, first-call paths
        self.iters = 1
        while True:
            t = self._loop(self.iters)
            if t >= MIN_S:
                break
            grow = min(100.0, max(2.0, 1.25 * MIN_S / t if t > 0 else 100.0))
            self.iters = int(self.iters * grow) + 1

    def _loop(self, n):
        m, x = self.m, self.x
        with torch.inference_mode():
            t0 = time.perf_counter()
            for _ in range(n):
                m(x)
            return time.perf_counter() - t0

    def time(self):
        self._loop(self.iters)
        return self._loop(self.iters) / self.iters


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def spread(xs):
    s = sorted(xs)
    n = len(s)
    return (s[(3 * n) // 4] - s[n // 4]) / s[n // 2]


def save_model(binary, out_dir, name):
    """bench_models --save: the model file, input and output; returns the 'model' line's fields"""
    for suffix in (".scpn", ".in.npy", ".out.npy", ".logits.npy"):     # nothing stale
        if os.path.exists(os.path.join(out_dir, name + suffix)):
            os.remove(os.path.join(out_dir, name + suffix))
    r = subprocess.run([binary, "--save", out_dir, "--net", name], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{binary} --save {out_dir} --net {name} failed ({r.returncode}): {r.stderr.strip()}")
    for line in r.stdout.splitlines():
        if line.startswith("model "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    fail(f"{binary} --save printed no 'model' line")


def rel_diff(y, ref):
    y = y.numpy().astype(np.float64).reshape(-1)
    ref = ref.astype(np.float64).reshape(-1)
    if y.shape != ref.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(ref))), 1e-30)
    return float(np.max(np.abs(y - ref))) / scale


def check(module, x, out_dir, name):
    """max |torch - ours| / max |ours| of the output and, where the network ends in a softmax
    (which random weights can saturate to 0 / 1), of the softmax's input: the larger"""
    with torch.inference_mode():
        ts = module.tensors(x)
    diff = rel_diff(ts[-1], np.load(os.path.join(out_dir, name + ".out.npy")))
    logits = os.path.join(out_dir, name + ".logits.npy")
    if os.path.exists(logits):
        diff = max(diff, rel_diff(ts[-2], np.load(logits)))
    if not diff <= CHECK_TOL:
        fail(f"{name}: PyTorch and ours differ by {diff:.3g} (relative to the largest output; "
             f"tolerance {CHECK_TOL:g}): not the same function, no comparison")
    return diff


def layer_times(binary, model_path, module, x):
    """per-layer times (s): ours from `bench_models --layers` ({first layer: (last layer, s)};
    a conv / fc and the ReLU fused into it share one entry, joins have none), torch per layer
    on its own input (medians of REPEATS loops of >= MIN_S / 4)"""
    from scalpel.torch_ref import apply_layer
    from scalpel.model import JOINS
    r = subprocess.run([binary, "--model", model_path, "--layers"], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{binary} --layers: {r.stderr.strip()}")
    ours = {int(a): (int(b), float(t) / 1e3)
            for a, b, t in re.findall(r"^layer first=(\d+) last=(\d+) ms=([0-9.eE+-]+)", r.stdout, re.M)}
    if not ours:
        fail(f"{binary} --layers printed no layer")
    theirs = []
    with torch.inference_mode():
        ts = module.tensors(x)
        for i, L in enumerate(module.layers):
            src = ts[i - L.from_]
            src2 = ts[i - L.from2] if L.kind in JOINS else None
            args = (L, src, src2, getattr(module, f"w{i}", None), getattr(module, f"b{i}", None),
                    getattr(module, f"params{i}", None))
            for _ in range(3):
                apply_layer(*args)
            n = 1
            while True:
                t0 = time.perf_counter()
                for _ in range(n):
                    apply_layer(*args)
                if time.perf_counter() - t0 >= MIN_S / 4:
                    break
                n *= 4
            samples = []
            for _ in range(REPEATS):
                t0 = time.perf_counter()
                for _ in range(n):
                    apply_layer(*args)
                samples.append((time.perf_counter() - t0) / n)
            theirs.append(median(samples))
    return ours, theirs


def layer_desc(L):
    name = L.kind_name
    if L.kind in (scalpel.CONV2D, scalpel.MAXPOOL, scalpel.AVGPOOL):
        g = f" g{L.groups}" if L.kind == scalpel.CONV2D and L.groups > 1 else ""
        name += f" {L.kernel_h}x{L.kernel_w}/{L.stride_h}{g}"
    c, h, w = L.in_shape
    oc, oh, ow = L.out_shape
    return name, f"{c}x{h}x{w} -> {oc}x{oh}x{ow}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bench", "bench_models"))
    ap.add_argument("--dir", default=os.path.join(ROOT, "build", "bench", "models"))
    ap.add_argument("--net", action="append", help="only these networks (repeatable)")
    ap.add_argument("--layers", action="store_true", help="per-layer times too (slow)")
    args = ap.parse_args()
    nets = args.net or NETS
    if not os.access(args.bin, os.X_OK):
        r = subprocess.run(["make", "-C", HERE, os.path.relpath(args.bin, HERE)])
        if r.returncode != 0 or not os.access(args.bin, os.X_OK):
            fail(f"{args.bin} is missing and make could not build it")
    os.makedirs(args.dir, exist_ok=True)
    torch.set_num_threads(1)
    torch.set_grad_enabled(False)
    t_start = time.perf_counter()
    stats = {name: save_model(args.bin, args.dir, name) for name in nets}

    print("# Reference networks: ours against PyTorch, batch 1, one thread\n")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    print(f"- machine: {cpu}, {os.cpu_count()} logical CPUs; {platform.system()} {platform.release()}")
    print(f"- ours: {os.path.relpath(args.bin, ROOT)}, scalpel backend `{stats[nets[0]]['backend']}`, "
          f"scalpel_net_forward, fp32")
    blas = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    print(f"- PyTorch {torch.__version__} (python/scalpel to_torch, eager, torch.set_num_threads(1), "
          f"inference_mode, float32; mkldnn {'on' if torch.backends.mkldnn.is_available() else 'off'}, "
          f"BLAS {blas.group(1) if blas else '?'}; OMP/OPENBLAS/MKL_NUM_THREADS=1), Python {platform.python_version()}")
    print(f"- timing: median of {REPEATS} rounds, each a loop of >= {MIN_S * 1e3:.0f} ms per side, the two "
          f"sides interleaved (ours in a child process, PyTorch here, order alternating per round); "
          f"outputs checked equal (max difference / max |output| <= {CHECK_TOL:g})\n")
    sys.stdout.flush()

    rows, layer_tables = [], []
    for name in nets:
        path = stats[name]["file"]
        x = torch.from_numpy(np.load(os.path.join(args.dir, name + ".in.npy")))
        module = scalpel.to_torch(path).float().eval()
        diff = check(module, x, args.dir, name)
        ours = Ours(args.bin, path)
        theirs = Theirs(module, x)
        t_ours, t_torch = [], []
        try:
            ours.time()                       # warm-up round of ours
            for r in range(REPEATS):
                if r % 2 == 0:
                    t_ours.append(ours.time())
                    t_torch.append(theirs.time())
                else:
                    t_torch.append(theirs.time())
                    t_ours.append(ours.time())
        finally:
            ours.close()
        mo, mt = median(t_ours), median(t_torch)
        rows.append((name, mo, mt, diff, spread(t_ours), spread(t_torch)))
        print(f"  {name:13s} ours {mo * 1e3:9.3f} ms (x{ours.iters}, spread {100 * spread(t_ours):.1f}%)  "
              f"torch {mt * 1e3:9.3f} ms (x{theirs.iters}, spread {100 * spread(t_torch):.1f}%)  "
              f"diff {diff:.1e}", file=sys.stderr)
        if args.layers:
            lo, lt = layer_times(args.bin, path, module, x)
            layer_tables.append((name, module.layers, lo, lt))
        del module

    print("### Ours against PyTorch (dense, batch 1, one thread)\n")
    print("| network | ours ms | PyTorch ms | ours/PyTorch | goal: ours faster | max rel diff |")
    print("| --- | ---: | ---: | ---: | --- | ---: |")
    passed = 0
    for name, mo, mt, diff, _, _ in rows:
        ok = mo < mt
        passed += ok
        print(f"| {name} | {mo * 1e3:.3f} | {mt * 1e3:.3f} | {mo / mt:.2f}x | {'PASS' if ok else 'MISS'} | {diff:.1e} |")
    worst = max([max(r[4], r[5]) for r in rows] or [0.0])
    print(f"\nours faster: {passed} of {len(rows)} networks. Largest interquartile spread of a measurement: "
          f"{100 * worst:.1f}%.\n")

    tiny = [r for r in rows if r[0] in TINY]
    if tiny:
        print("### MLPerf Tiny models (ours, dense, batch 1, one thread)\n")
        print("weight bytes: weights + biases as stored (scalpel_net_weight_bytes). peak activation bytes: "
              "scalpel_net_workspace_size(net, 1), all the memory the forward pass uses besides input, output "
              "and weights (two ping-pong buffers of the largest tensor, convolution im2col scratch, tensors "
              "kept for skip connections); largest in+out: the largest input + output of one layer. MACs: "
              "multiply-accumulates per sample (conv and fc layers, output positions included).\n")
        print("| network | dense ms | weight bytes | peak activation bytes | largest in+out | MACs |")
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for name, mo, _, _, _, _ in tiny:
            s = stats[name]
            print(f"| {name} | {mo * 1e3:.3f} | {s['weight_bytes']} | {s['workspace_bytes']} | {s['largest_pair']} "
                  f"| {s['macs']} |")
        print()

    for name, layers, lo, lt in layer_tables:
        print(f"### Per layer: {name}\n")
        print("Each layer alone on an input of its shape: ours a one-layer network (bench_models --layers; a "
              "ReLU right after a conv / fc is fused into it by the C library, so the two share one row; joins "
              "(add, concat) are not timed alone), PyTorch the module's operator for that layer (python/scalpel "
              "apply_layer). Medians of rounds; the two sides not interleaved here.\n")
        print("| layer | kind | shape | ours us | PyTorch us | ours/PyTorch |")
        print("| --- | --- | --- | ---: | ---: | ---: |")
        i, tot_o, tot_t = 0, 0.0, 0.0
        while i < len(layers):
            L = layers[i]
            kind, shape = layer_desc(L)
            j, o = lo.get(i, (i, None))
            t = sum(lt[i:j + 1])
            if j > i:
                kind += " + " + " + ".join(layers[k].kind_name for k in range(i + 1, j + 1))
            tot_t += t
            if o is not None:
                tot_o += o
            ours_s = f"{o * 1e6:.1f}" if o is not None else "-"
            ratio = f"{o / t:.2f}x" if o is not None and t > 0 else "-"
            label = f"{i}" if j == i else f"{i}-{j}"
            print(f"| {label} | {kind} | {shape} | {ours_s} | {t * 1e6:.1f} | {ratio} |")
            i = j + 1
        print(f"| sum | | | {tot_o * 1e6:.1f} | {tot_t * 1e6:.1f} | |\n")
    print(f"Total time: {time.perf_counter() - t_start:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
