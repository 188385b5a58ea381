#!/usr/bin/env python3
"""Python reference of the face pipeline (onnxruntime + numpy + OpenCV), written the way an ML
engineer would, for two jobs:

  parity  IMAGE...         print JSON reference outputs (box, 5 points, embedding) that the Rust
                           parity test (server/engine/tests/face.rs) compares against
  bench   --images DIR     time each stage single-threaded on the images in DIR, print JSON

Pipeline (docs/face-engine.md): longest side <= 1280 (INTER_AREA) -> fr_detect on the image
squashed to 320x240, BGR, (p-127)/128, score >= 0.7, IoU-NMS 0.4, highest score (ties within
0.01 -> largest) -> square box (side = box height) moved inside the image -> fr_landmark on
64x64 grey /256 -> 5 points -> least-squares similarity to the ArcFace 112 template ->
fr_feature on BGR (p-127)/128 -> L2 normalisation. The fusion members (research/embeddings.md):
SFace on the same crop as RGB 0..255; dlib's ResNet on a 150x150 chip warped from the same five
points to dlib's template (INTER_AREA shrink first when the face is more than twice the chip),
RGB 0..255, optionally plus its mirror image. Fused = weighted mean of the members' cosines
(concatenation of sqrt(w/sum w)-scaled unit vectors); `bench` times the engine's default fusion.

Needs: python3 -m venv /tmp/facevenv && /tmp/facevenv/bin/pip install onnxruntime==1.31.1 numpy opencv-python-headless
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "models" / "files"
ARCFACE = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                    [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)
DLIB_CHIP = np.array([[47.3526, 46.5059], [100.2736, 46.8024], [74.4461, 77.5008],
                      [52.5171, 102.0327], [95.2599, 102.5108]], dtype=np.float32)
MAX_SIDE = 1280
# The engine's default fusion (server/engine/src/face/fusion.rs): (model, flip, weight).
FUSION = [("sface", False, 1.0), ("dlib_resnet", True, 1.0)]


def session(name: str) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(MODELS / f"{name}.onnx"), opts, providers=["CPUExecutionProvider"])


class Pipeline:
    def __init__(self) -> None:
        self.detect_s = session("fr_detect")
        self.landmark_s = session("fr_landmark")
        self.feature_s = session("fr_feature")
        self.sface_s = session("sface_2021dec_fp32")
        self.dlib_s = session("dlib_face_recognition_resnet_v1")

    @staticmethod
    def load(data: bytes) -> np.ndarray:
        return Pipeline.load_scaled(data)[0]

    @staticmethod
    def load_scaled(data: bytes) -> tuple[np.ndarray, float]:
        """The image with its longest side <= MAX_SIDE, and that scale."""
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise ValueError("cannot decode image")
        h, w = img.shape[:2]
        if max(h, w) <= MAX_SIDE:
            return img, 1.0
        s = MAX_SIDE / max(h, w)
        nw = round(w * s)
        return cv2.resize(img, (nw, round(h * s)), interpolation=cv2.INTER_AREA), nw / w

    def detect(self, bgr: np.ndarray) -> list[tuple[np.ndarray, float]]:
        h, w = bgr.shape[:2]
        x = cv2.resize(bgr, (320, 240)).astype(np.float32)
        x = ((x - 127.0) / 128.0).transpose(2, 0, 1)[None]
        scores, boxes = self.detect_s.run(["scores", "boxes"], {"input": x})
        keep = scores[0, :, 1] >= 0.7
        s, b = scores[0, keep, 1], boxes[0, keep] * np.array([w, h, w, h], np.float32)
        order = np.argsort(-s)
        kept: list[int] = []
        for i in order:
            if all(iou(b[i], b[k]) <= 0.4 for k in kept):
                kept.append(i)
        return [(b[i], float(s[i])) for i in kept]

    @staticmethod
    def choose(dets: list[tuple[np.ndarray, float]]) -> int | None:
        if not dets:
            return None
        top = max(s for _, s in dets)
        tied = [i for i, (_, s) in enumerate(dets) if s >= top - 0.01]
        return max(tied, key=lambda i: (dets[i][0][2] - dets[i][0][0]) * (dets[i][0][3] - dets[i][0][1]))

    def landmarks(self, bgr: np.ndarray, box: np.ndarray) -> np.ndarray:
        h, w = bgr.shape[:2]
        side = box[3] - box[1]
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        sw, sh = min(side, w), min(side, h)
        x1 = min(max(cx - side / 2, 0), w - sw)
        y1 = min(max(cy - side / 2, 0), h - sh)
        rx1, ry1 = min(max(round(x1), 0), w - 1), min(max(round(y1), 0), h - 1)
        rx2, ry2 = max(min(max(round(x1 + sw), 0), w), rx1 + 1), max(min(max(round(y1 + sh), 0), h), ry1 + 1)
        crop = cv2.resize(bgr[ry1:ry2, rx1:rx2], (64, 64))
        gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY).astype(np.float32) / 256.0
        out = self.landmark_s.run(["output"], {"input": gray[None, None]})[0].reshape(68, 2)
        return out * np.array([rx2 - rx1, ry2 - ry1], np.float32) + np.array([rx1, ry1], np.float32)

    @staticmethod
    def five_points(lm: np.ndarray) -> np.ndarray:
        return np.array([lm[[37, 38, 40, 41]].mean(0), lm[[43, 44, 46, 47]].mean(0), lm[30],
                         lm[[48, 60]].mean(0), lm[[54, 64]].mean(0)], np.float32)

    def embed(self, bgr: np.ndarray, pts: np.ndarray) -> np.ndarray:
        m = umeyama(pts, ARCFACE)
        crop = cv2.warpAffine(bgr, m, (112, 112), flags=cv2.INTER_LINEAR, borderValue=0)
        x = ((crop.astype(np.float32) - 127.0) / 128.0).transpose(2, 0, 1)[None]
        e = self.feature_s.run(["output"], {"input": x})[0][0]
        return e / np.linalg.norm(e)

    def member(self, model: str, bgr: np.ndarray, pts: np.ndarray, flip: bool) -> np.ndarray:
        """One fusion member's L2-normalised embedding."""
        if model == "fr_feature":
            e = self.embed(bgr, pts)
            return e
        if model == "sface":
            crop = cv2.warpAffine(bgr, umeyama(pts, ARCFACE), (112, 112), flags=cv2.INTER_LINEAR, borderValue=0)
            sess, inp = self.sface_s, "data"
        else:
            m = umeyama(pts, DLIB_CHIP)
            scale = float(np.sqrt(abs(np.linalg.det(m[:, :2]))))
            src = bgr
            if scale < 0.5:
                # Face more than twice the chip: area-shrink the whole image first.
                src = cv2.resize(bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
                sx, sy = src.shape[1] / bgr.shape[1], src.shape[0] / bgr.shape[0]
                m = umeyama((pts + 0.5) * np.array([sx, sy], np.float32) - 0.5, DLIB_CHIP)
            crop = cv2.warpAffine(src, m, (150, 150), flags=cv2.INTER_LINEAR, borderValue=0)
            sess, inp = self.dlib_s, "input"
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32)
        batch = np.stack([rgb, rgb[:, ::-1]]) if flip else rgb[None]
        out = np.concatenate([sess.run(None, {inp: b.transpose(2, 0, 1)[None].copy()})[0] for b in batch])
        e = out.sum(0)
        return e / np.linalg.norm(e)

    def embed_fused(self, bgr: np.ndarray, pts: np.ndarray, fusion=FUSION) -> np.ndarray:
        total = sum(w for _, _, w in fusion)
        return np.concatenate([self.member(m, bgr, pts, f) * np.sqrt(w / total) for m, f, w in fusion])

    def analyze(self, data: bytes, fused: bool = False) -> dict | None:
        bgr, scale = self.load_scaled(data)
        dets = self.detect(bgr)
        best = self.choose(dets)
        if best is None:
            return None
        box, score = dets[best]
        pts = self.five_points(self.landmarks(bgr, box))
        # Coordinates in the uploaded image's pixels, as the Rust engine reports them.
        if fused:
            return {"embedding": self.embed_fused(bgr, pts).tolist()}
        return {"box": (box / scale).tolist(), "score": score, "five_points": (pts / scale).tolist(),
                "embedding": self.embed(bgr, pts).tolist(),
                "sface": self.member("sface", bgr, pts, False).tolist(),
                "dlib_resnet": self.member("dlib_resnet", bgr, pts, False).tolist()}


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, scale, translation) mapping src onto dst, 2x3."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1
    r = u @ np.diag(sign) @ vt
    scale = (sig * sign).sum() / s.var(0).sum()
    t = mu_d - scale * r @ mu_s
    return np.hstack([scale * r, t[:, None]]).astype(np.float32)


def parity(paths: list[str]) -> int:
    pipe = Pipeline()
    out = {Path(p).name: pipe.analyze(Path(p).read_bytes()) for p in paths}
    json.dump(out, sys.stdout, indent=1)
    print()
    return 0


def timed(fn, runs: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


class TimedSession:
    """An InferenceSession that adds the time of its runs to a shared clock."""
    spent = 0.0

    def __init__(self, inner: ort.InferenceSession) -> None:
        self.inner = inner

    def run(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return self.inner.run(*args, **kwargs)
        finally:
            TimedSession.spent += time.perf_counter() - t


def inference_ms(pipe: "Pipeline", data: bytes, runs: int) -> float:
    """Median time inside session.run per whole analysis: the part both pipelines share (the
    same libonnxruntime from the same wheel, the same model files, one thread)."""
    samples = []
    for _ in range(runs):
        TimedSession.spent = 0.0
        pipe.analyze(data, fused=True)
        samples.append(TimedSession.spent)
    return statistics.median(samples) * 1e3


def bench(images: Path, runs: int) -> int:
    cv2.setNumThreads(1)
    pipe = Pipeline()
    for name in ("detect_s", "landmark_s", "feature_s", "sface_s", "dlib_s"):
        setattr(pipe, name, TimedSession(getattr(pipe, name)))
    results = {}
    for path in sorted(images.glob("*.jpg")):
        data = path.read_bytes()
        bgr = pipe.load(data)
        box, _ = pipe.detect(bgr)[pipe.choose(pipe.detect(bgr))]
        pts = pipe.five_points(pipe.landmarks(bgr, box))
        results[path.stem] = {
            "decode_ms": timed(lambda: pipe.load(data), runs),
            "detect_ms": timed(lambda: pipe.detect(bgr), runs),
            "landmarks_ms": timed(lambda: pipe.landmarks(bgr, box), runs),
            "align_embed_ms": timed(lambda: pipe.embed_fused(bgr, pts), runs),
            "whole_ms": timed(lambda: pipe.analyze(data, fused=True), runs),
            "whole_inference_ms": inference_ms(pipe, data, runs),
        }
        print(f"{path.stem}: {results[path.stem]}", file=sys.stderr)
    json.dump(results, sys.stdout, indent=1)
    print()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("parity")
    p.add_argument("images", nargs="+")
    b = sub.add_parser("bench")
    b.add_argument("--images", type=Path, required=True)
    b.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    return parity(args.images) if args.cmd == "parity" else bench(args.images, args.runs)


if __name__ == "__main__":
    sys.exit(main())
