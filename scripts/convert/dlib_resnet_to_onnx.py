#!/usr/bin/env python3
"""Convert dlib's face-recognition ResNet (`dlib_face_recognition_resnet_model_v1.dat`) to ONNX.

Usage: dlib_resnet_to_onnx.py INPUT.dat OUTPUT.onnx

Run by scripts/setup (scripts/fetch_models.py) in its converter venv (numpy + onnx, pinned in
scripts/convert/requirements.txt); the manifest checks the output's SHA-256, so the same pinned
inputs must give the same bytes.

The .dat file is dlib's `serialize(net)` of the network in dlib's dnn_face_recognition_ex.cpp:

    loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
        max_pool<3,3,2,2, relu<affine<con<32,7,7,2,2, input_rgb_image_sized<150>>>>>>>>>>>>>

built from residual blocks `relu(block(x) + x)` and, for the `_down` ones,
`relu(block(x) + avg_pool<2,2,2,2>(x))`, where block = affine∘con(3×3)∘relu∘affine∘con(3×3, stride).
dlib's serialisation primitives (dlib/serialize.h, dlib/dnn/tensor.h):
  - integer: one control byte (low nibble = byte count, bit 7 = negative), then the magnitude
    little-endian in that many bytes;
  - float/double: two integers, mantissa and base-2 exponent;
  - string: integer length, then the bytes; bool: the character '1' or '0';
  - tensor: integer version (2), num_samples, k, nr, nc, then k·nr·nc·num_samples float32 LE;
  - each layer's details start with a name string ("con_4", "affine_", "relu_", "max_pool_2",
    "avg_pool_2", "add_prev_", "fc_2", "input_rgb_image_sized", "loss_metric_2").
Nested add_layer wrappers write their subnetwork first, so layers appear input-first. This script
reads the layer records by those names in file order; the residual structure follows from the
sequence (a block with an `avg_pool_2` before its `add_prev_` is a down-sampling block). Tag
and skip layers have no name record and need none.

dlib adds tensors of different shapes by treating missing elements as zero (tt::add into the
larger shape): the down-sampling blocks' channel counts and spatial sizes differ from their
shortcut's, so the graph zero-pads (ONNX Pad, at the end of each axis) before each Add.
Each `affine_` (frozen batch norm: gamma·x + beta per channel) is folded into the convolution
before it. Output graph: input `input` [N,3,150,150] float32 RGB 0..255 (dlib's mean subtraction
and /256 are in the graph), output `descriptor` [N,128], not normalised.
"""

from __future__ import annotations

import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

LAYER_NAMES = (b"input_rgb_image_sized", b"con_4", b"affine_", b"relu_", b"max_pool_2",
               b"avg_pool_2", b"add_prev_", b"fc_2")


class Reader:
    """dlib's serialisation primitives over a bytes buffer."""

    def __init__(self, data: bytes, pos: int = 0):
        self.data, self.pos = data, pos

    def int(self) -> int:
        control = self.data[self.pos]
        size, negative = control & 0x0F, control & 0x80
        if size > 8:
            raise ValueError(f"bad integer control byte {control:#x} at {self.pos}")
        value = int.from_bytes(self.data[self.pos + 1:self.pos + 1 + size], "little")
        self.pos += 1 + size
        return -value if negative else value

    def float(self) -> float:
        mantissa = self.int()
        return float(np.ldexp(float(mantissa), self.int()))

    def string(self) -> str:
        n = self.int()
        text = self.data[self.pos:self.pos + n].decode("ascii")
        self.pos += n
        return text

    def tensor(self) -> np.ndarray:
        version = self.int()
        if version != 2:
            raise ValueError(f"unsupported tensor version {version} at {self.pos}")
        dims = [self.int() for _ in range(4)]
        count = int(np.prod(dims))
        values = np.frombuffer(self.data, "<f4", count, self.pos).astype(np.float32).reshape(dims)
        self.pos += 4 * count
        return values

    def alias(self) -> list[int]:
        self.int()  # alias_tensor version
        return [self.int() for _ in range(4)]


def find_next_layer(data: bytes, pos: int) -> tuple[str, int] | None:
    """The next layer-name record at or after pos: (name, position just after the name)."""
    best = None
    for name in LAYER_NAMES:
        at = data.find(bytes([0x01, len(name)]) + name, pos)
        if at >= 0 and (best is None or at < best[1]):
            best = (name.decode(), at)
    if best is None:
        return None
    return best[0], best[1] + 2 + len(best[0])


def read_layers(data: bytes) -> list[dict]:
    """Every named layer record with its parameters, input-first."""
    layers, pos = [], 0
    while (found := find_next_layer(data, pos)) is not None:
        name, pos = found
        r = Reader(data, pos)
        if name == "input_rgb_image_sized":
            layer = {"type": "input", "mean": [r.float(), r.float(), r.float()], "size": (r.int(), r.int())}
        elif name == "con_4":
            params = r.tensor().reshape(-1)
            filters, kh, kw, sy, sx, py, px = (r.int() for _ in range(7))
            wshape = r.alias()
            bshape = r.alias()
            nw = int(np.prod(wshape))
            if bshape[1] != filters or params.size != nw + filters:
                raise ValueError(f"con_4 at {pos}: parameter sizes do not add up")
            layer = {"type": "conv", "weight": params[:nw].reshape(wshape), "bias": params[nw:].copy(),
                     "kernel": (kh, kw), "stride": (sy, sx), "pad": (py, px)}
        elif name == "affine_":
            params = r.tensor().reshape(-1)
            k = params.size // 2
            layer = {"type": "affine", "gamma": params[:k].copy(), "beta": params[k:].copy()}
        elif name in ("max_pool_2", "avg_pool_2"):
            kh, kw, sy, sx, py, px = (r.int() for _ in range(6))
            layer = {"type": name[:3] + "pool", "kernel": (kh, kw), "stride": (sy, sx), "pad": (py, px)}
        elif name == "fc_2":
            outputs, inputs = r.int(), r.int()
            params = r.tensor().reshape(-1)
            if params.size != inputs * outputs:
                raise ValueError("fc_2: expected no bias (fc_no_bias)")
            layer = {"type": "fc", "weight": params.reshape(inputs, outputs)}
        else:
            layer = {"type": {"relu_": "relu", "add_prev_": "add"}[name]}
        layers.append(layer)
        pos = r.pos
    return layers


class GraphBuilder:
    """Builds the ONNX graph while tracking each value's static [C, H, W] shape."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, prefix: str, array: np.ndarray) -> str:
        name = self.name(prefix)
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], **attrs) -> str:
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    # dlib: 1 + (n + 2p − k) / s with C integer division (the same floor as ONNX here).
    return 1 + (size + 2 * pad - kernel) // stride


def conv(g: GraphBuilder, x: str, shape: tuple, layer: dict, affine: dict) -> tuple[str, tuple]:
    w = layer["weight"] * affine["gamma"][:, None, None, None]
    b = layer["bias"] * affine["gamma"] + affine["beta"]
    (kh, kw), (sy, sx), (py, px) = layer["kernel"], layer["stride"], layer["pad"]
    y = g.node("Conv", [x, g.const("w", w.astype(np.float32)), g.const("b", b.astype(np.float32))],
               kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])
    return y, (w.shape[0], out_size(shape[1], kh, sy, py), out_size(shape[2], kw, sx, px))


def pool(g: GraphBuilder, x: str, shape: tuple, layer: dict) -> tuple[str, tuple]:
    (kh, kw), (sy, sx), (py, px) = layer["kernel"], layer["stride"], layer["pad"]
    op = "MaxPool" if layer["type"] == "maxpool" else "AveragePool"
    y = g.node(op, [x], kernel_shape=[kh, kw], strides=[sy, sx], pads=[py, px, py, px])
    return y, (shape[0], out_size(shape[1], kh, sy, py), out_size(shape[2], kw, sx, px))


def pad_to(g: GraphBuilder, x: str, shape: tuple, target: tuple) -> str:
    if shape == target:
        return x
    ends = [t - s for s, t in zip(shape, target)]
    pads = np.array([0, 0, 0, 0, 0, *ends], dtype=np.int64)
    return g.node("Pad", [x, g.const("pads", pads)], mode="constant")


def residual_add(g: GraphBuilder, a: str, sa: tuple, b: str, sb: tuple) -> tuple[str, tuple]:
    # dlib's add_prev: output has the larger size on every axis, missing elements count as zero.
    target = tuple(max(p, q) for p, q in zip(sa, sb))
    return g.node("Add", [pad_to(g, a, sa, target), pad_to(g, b, sb, target)]), target


def build(layers: list[dict]) -> onnx.ModelProto:
    if layers[0]["type"] != "input":
        raise ValueError("the first layer record is not input_rgb_image_sized")
    h, w = layers[0]["size"]
    g = GraphBuilder()
    mean = np.array(layers[0]["mean"], dtype=np.float32).reshape(1, 3, 1, 1)
    x = g.node("Mul", [g.node("Sub", ["input", g.const("mean", mean)]),
                       g.const("scale", np.array(1.0 / 256.0, dtype=np.float32))])
    shape = (3, h, w)
    rest = layers[1:]
    types = [l["type"] for l in rest]
    # Stem: conv, affine, relu, max_pool.
    if types[:4] != ["conv", "affine", "relu", "maxpool"]:
        raise ValueError(f"unexpected stem {types[:4]}")
    x, shape = conv(g, x, shape, rest[0], rest[1])
    x = g.node("Relu", [x])
    x, shape = pool(g, x, shape, rest[3])
    i, blocks = 4, 0
    while i < len(rest) and rest[i]["type"] == "conv":
        down = types[i + 5] == "avgpool"
        want = ["conv", "affine", "relu", "conv", "affine"] + (["avgpool"] if down else []) + ["add", "relu"]
        if types[i:i + len(want)] != want:
            raise ValueError(f"unexpected residual block {types[i:i + len(want)]} at layer {i + 1}")
        y, sy = conv(g, x, shape, rest[i], rest[i + 1])
        y = g.node("Relu", [y])
        y, sy = conv(g, y, sy, rest[i + 3], rest[i + 4])
        short, ss = pool(g, x, shape, rest[i + 5]) if down else (x, shape)
        x, shape = residual_add(g, short, ss, y, sy)
        x = g.node("Relu", [x])
        i += len(want)
        blocks += 1
    if types[i:] != ["avgpool", "fc"] or rest[i]["kernel"] != (0, 0):
        raise ValueError(f"unexpected head {types[i:]}")
    x = g.node("Flatten", [g.node("GlobalAveragePool", [x])], axis=1)
    fc = rest[i + 1]["weight"]
    if fc.shape[0] != shape[0]:
        raise ValueError(f"fc expects {fc.shape[0]} inputs, the network gives {shape[0]}")
    y = g.node("MatMul", [x, g.const("fc", fc)])
    g.nodes.append(helper.make_node("Identity", [y], ["descriptor"], name="descriptor"))
    print(f"dlib_resnet_to_onnx: {blocks} residual blocks, descriptor {fc.shape[1]}-d", file=sys.stderr)
    graph = helper.make_graph(
        g.nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, h, w])],
        [helper.make_tensor_value_info("descriptor", TensorProto.FLOAT, ["N", fc.shape[1]])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="thirdfactor")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        data = f.read()
    model = build(read_layers(data))
    onnx.save(model, sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
