"""python3 -m scalpel: convert models to Scalpel model files, and list them.

  python3 -m scalpel convert MODEL.onnx -o OUT.scpn [--input-shape C,H,W]
  python3 -m scalpel convert-torch SPEC --input-shape C,H,W -o OUT.scpn [--weights FILE.pt]
                                   [--no-check]
  python3 -m scalpel info MODEL.scpn

convert-torch SPEC names a callable that returns the torch.nn.Module: ``package.module:name``
(importable, e.g. ``torchvision.models:mobilenet_v2``) or ``path/to/file.py:name``; it is
called without arguments. --weights loads a state_dict saved with torch.save (read with
weights_only=True where PyTorch offers it).

Exit status: 0 on success, 1 when the model cannot be converted or read (the message names
the node or field), 2 for bad arguments. An existing OUT is only replaced once the new file is
complete (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import tempfile

from .graph import ConvertError
from .model import KIND_NAMES, STORAGE_GCSR, Model


def _shape(text: str):
    try:
        dims = tuple(int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected C,H,W or F (integers)") from None
    if len(dims) not in (1, 3) or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected C,H,W or F, each >= 1")
    return dims


def _save_atomic(model: Model, path: str) -> None:
    data = model.to_bytes()
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".scalpel-", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _load_callable(spec: str):
    if ":" not in spec:
        raise ConvertError(f"{spec!r}: expected package.module:name or path/to/file.py:name")
    where, name = spec.rsplit(":", 1)
    if where.endswith(".py"):
        if not os.path.isfile(where):
            raise ConvertError(f"{where}: no such file")
        s = importlib.util.spec_from_file_location("_scalpel_user_model", where)
        mod = importlib.util.module_from_spec(s)
        s.loader.exec_module(mod)
    else:
        mod = importlib.import_module(where)
    fn = getattr(mod, name, None)
    if fn is None or not callable(fn):
        raise ConvertError(f"{spec!r}: {where} has no callable {name!r}")
    return fn


def _info(model: Model) -> str:
    lines = [f"input {model.input_shape}, {len(model.layers)} layers, output {model.output_shape}"]
    q = model.input_norm
    if q is not None:
        lines.append(f"input preprocessing: raw inputs in [0, {q.range:g}], then (x - mean) / std with mean "
                     f"{', '.join(f'{v:g}' for v in q.mean)} and std {', '.join(f'{v:g}' for v in q.std)} "
                     f"({'folded into layer 0' if q.where_name == 'folded' else 'done by layer 0, a batchnorm'})")
    if model.packed_batch:
        lines.append(f"packed for batch {model.packed_batch}")
    for i, L in enumerate(model.layers):
        src = model.sources(i)
        reads = f"t{src[0]}" + (f", t{src[1]}" if src[1] is not None else "")
        store = ""
        if L.weighted:
            store = f"  {'gcsr G=' + str(L.group) if L.storage == STORAGE_GCSR else 'dense'} {L.rows}x{L.cols}"
        lines.append(f"{i:4d}  {KIND_NAMES[L.kind]:<10} {reads:<9} {str(L.in_shape):>16} -> {str(L.out_shape):<16}{store}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m scalpel", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="ONNX model to a Scalpel model file")
    c.add_argument("model", help="the .onnx file")
    c.add_argument("-o", "--output", required=True)
    c.add_argument("--input-shape", type=_shape, help="C,H,W (or F) per sample when the ONNX input's are symbolic")
    t = sub.add_parser("convert-torch", help="a PyTorch module to a Scalpel model file (torch.fx)")
    t.add_argument("spec", help="package.module:name or file.py:name, a callable returning the module")
    t.add_argument("--input-shape", type=_shape, required=True, help="C,H,W (or F) per sample")
    t.add_argument("-o", "--output", required=True)
    t.add_argument("--weights", help="a state_dict saved with torch.save")
    t.add_argument("--no-check", action="store_true", help="skip the comparison with the module")
    i = sub.add_parser("info", help="list a model file's layers")
    i.add_argument("model")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "info":
            print(_info(Model.load(args.model)))
            return 0
        if args.cmd == "convert":
            from .onnx_convert import convert_onnx
            model = convert_onnx(args.model, input_shape=args.input_shape)
        else:
            import torch

            from .torch_convert import convert_torch
            module = _load_callable(args.spec)()
            if args.weights:
                try:
                    state = torch.load(args.weights, map_location="cpu", weights_only=True)
                except TypeError:   # PyTorch without weights_only
                    state = torch.load(args.weights, map_location="cpu")
                module.load_state_dict(state)
            model = convert_torch(module, args.input_shape, check=not args.no_check)
        _save_atomic(model, args.output)
        print(f"{args.output}: {len(model.layers)} layers, input {model.input_shape}, output {model.output_shape}")
        return 0
    except (ConvertError, ValueError, OSError) as e:
        print(f"scalpel: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
