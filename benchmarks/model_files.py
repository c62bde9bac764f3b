"""Which ONNX files to benchmark: given paths, ``models/*.onnx``, the models shipped in the
package (``edge_detector/models``: scratch, lite0), or cached random-weight exports for an
architecture that ships no model (EfficientNetB0) or when ``--random`` asks for them.

Random-weight models are built with ``train.models`` and exported with the project's export API
(TensorFlow needed; the ``train`` extra). They live in a cache folder keyed by the source of the
model builders and the export, so a repeat run reuses them. A missing int8 file is made with the
export's quantizer on generated crops (forced: agreement is recorded, not enforced; timing only).
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import onnx

from edge_detector.contract import FFPP_CLASSES, METADATA_KEY, ModelContract
from edge_detector.weights import sha256_file

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURES = ("scratch", "lite0", "effnetb0")
INT8_SUFFIX = ".int8.onnx"
QUICK_CROPS = 32  # --quick random models: calibration and parity crops (the export's: 256 and 64)
KEY_SOURCES = ("train/models.py", "export/convert.py", "export/onnx_export.py", "export/quantize.py")
NO_TRAIN_EXTRA = (
    "models/{arch}.onnx not found and building random-weight models needs TensorFlow, Keras and "
    "tf2onnx: install the train extra (pip install -e '.[train]') or pass --models A.onnx"
)


class BenchSetupError(RuntimeError):
    """The benchmark cannot find or make the models it was asked to time."""


@dataclass(frozen=True)
class ModelFiles:
    """The fp32 (and optional int8) file of one classifier, and where they came from."""

    name: str
    architecture: str
    contract: ModelContract
    fp32: Path | None
    int8: Path | None
    origin: str
    int8_origin: str | None
    random_weights: bool


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "edge-deepfake-detector" / "bench"


def read_contract(path: Path) -> ModelContract | None:
    model = onnx.load(str(path), load_external_data=False)
    for p in model.metadata_props:
        if p.key == METADATA_KEY:
            return ModelContract.from_json(p.value)
    return None


def _contract_or_guess(path: Path) -> ModelContract:
    contract = read_contract(path)
    if contract is not None:
        return contract
    from edge_detector.classifier import OnnxClassifier

    return OnnxClassifier(path, threads=1).contract  # warns and assumes FF++ classes


def _is_int8(path: Path, contract: ModelContract) -> bool:
    return path.name.endswith(INT8_SUFFIX) or contract.extra.get("precision") == "int8"


def _base_name(path: Path) -> str:
    n = path.name
    return n[: -len(INT8_SUFFIX)] if n.endswith(INT8_SUFFIX) else path.stem


def _sibling_int8(fp32: Path) -> Path | None:
    p = fp32.with_name(fp32.stem + INT8_SUFFIX)
    return p if p.is_file() else None


def from_paths(paths: list[Path], origin: str = "given") -> list[ModelFiles]:
    """Group files into models: ``a.onnx`` and ``a.int8.onnx`` (given or beside it) are one model."""
    groups: dict[str, dict[str, Path]] = {}
    for p in paths:
        if not p.is_file():
            raise BenchSetupError(f"model file not found: {p}")
        contract = _contract_or_guess(p)
        slot = "int8" if _is_int8(p, contract) else "fp32"
        groups.setdefault(_base_name(p), {})[slot] = p
    out = []
    for name, files in groups.items():
        fp32, int8 = files.get("fp32"), files.get("int8")
        if fp32 is not None and int8 is None:
            int8 = _sibling_int8(fp32)
        contract = _contract_or_guess(fp32 or int8)  # type: ignore[arg-type]
        out.append(ModelFiles(name, contract.architecture, contract, fp32, int8, origin,
                              origin if int8 else None, False))
    return out


def _cache_key() -> str:
    h = hashlib.sha256()
    for rel in KEY_SOURCES:
        p = REPO / rel
        h.update(p.read_bytes() if p.is_file() else b"-")
    return h.hexdigest()[:16]


def random_model(arch: str, cache_dir: Path, quick: bool = False) -> ModelFiles:
    """A cached random-weight export of ``arch`` (fp32 + forced int8), made when missing.

    ``quick`` (smoke runs, tests): fewer parity and calibration crops, cached under its own name
    so it never stands in for the full run's model.
    """
    key = _cache_key()
    prefix = f"bench-quick-{arch}" if quick else f"bench-{arch}"
    fp32 = cache_dir / f"{prefix}-{key}.onnx"
    int8 = fp32.with_name(fp32.stem + INT8_SUFFIX)
    if not fp32.is_file():
        log.info("building a random-weight %s and exporting it to %s (cached for later runs)",
                 arch, fp32)
        _export_random(arch, fp32, QUICK_CROPS if quick else None)
        for old in cache_dir.glob(f"{prefix}-*"):  # exports made from older sources
            if not old.name.startswith(fp32.stem):
                old.unlink(missing_ok=True)
    contract = read_contract(fp32)
    assert contract is not None  # written by the export API
    return ModelFiles(f"{arch} (random)", arch, contract, fp32, int8 if int8.is_file() else None,
                      f"random weights, cached in {cache_dir}",
                      "export quantizer, generated calibration" if int8.is_file() else None, True)


def _export_random(arch: str, out: Path, crops: int | None = None) -> None:
    try:
        from export.onnx_export import export_keras_model
        from export.samples import generated_crops
        from train.models import build_model
    except ImportError as exc:
        raise BenchSetupError(NO_TRAIN_EXTRA.format(arch=arch) + f" ({exc})") from exc
    from .bench_keras import init_tensorflow

    init_tensorflow()
    out.parent.mkdir(parents=True, exist_ok=True)
    model = build_model(arch, len(FFPP_CLASSES))
    size = int(model.input_shape[1])
    # None: the export's default generated sets; same seeds either way.
    parity = generated_crops(crops, size, seed=0) if crops else None
    calibration = generated_crops(crops, size, seed=1) if crops else None
    export_keras_model(model, out, FFPP_CLASSES, architecture=arch, model_name=f"bench-{arch}",
                       trained_on="random weights (benchmark only)", int8=True, force=True,
                       min_agreement=0.0, parity_crops=parity, calibration=calibration)


def shipped_model(arch: str) -> Path | None:
    """The package's shipped model of ``arch`` (named after it in the zoo), if any."""
    from edge_detector.zoo import shipped_models

    return next((m.path for m in shipped_models() if m.name == arch), None)


def default_models(archs: tuple[str, ...], cache_dir: Path, models_dir: Path,
                   quick: bool = False, random: bool = False) -> list[ModelFiles]:
    """``models/<arch>.onnx`` where present, else the shipped model, else a cached random-weight
    export (always the latter with ``random``: weights do not change the latency)."""
    out = []
    for arch in archs:
        path = models_dir / f"{arch}.onnx"
        shipped = None if random else shipped_model(arch)
        if path.is_file() and not random:
            out += from_paths([path], origin=str(path))
        elif shipped is not None:
            (m,) = from_paths([shipped], origin=f"shipped ({shipped.name})")
            out.append(ModelFiles(f"{arch} (shipped)", m.architecture, m.contract, m.fp32, m.int8,
                                  m.origin, m.int8_origin, False))
        else:
            out.append(random_model(arch, cache_dir, quick))
    return out


def ensure_int8(m: ModelFiles, cache_dir: Path) -> ModelFiles:
    """Add a bench-made int8 file (cached by the fp32 file's hash) when the model has none."""
    if m.int8 is not None or m.fp32 is None:
        return m
    try:
        from export.quantize import quantize_int8
        from export.samples import generated_crops
    except ImportError as exc:
        log.warning("no int8 for %s: the export quantizer is not importable (%s)", m.name, exc)
        return m
    out = cache_dir / f"int8-{sha256_file(m.fp32)[:16]}-{m.fp32.stem}{INT8_SUFFIX}"
    if not out.is_file():
        size = m.contract.input_size
        try:
            quantize_int8(m.fp32, out, generated_crops(128, size, seed=1),
                          generated_crops(32, size, seed=0), min_agreement=0.0, force=True)
        except Exception as exc:  # quantization of arbitrary graphs can fail in many ways
            log.warning("no int8 for %s: quantization failed (%s)", m.name, exc)
            return m
    return ModelFiles(m.name, m.architecture, m.contract, m.fp32, out, m.origin,
                      "bench-made (export quantizer, generated calibration)", m.random_weights)
