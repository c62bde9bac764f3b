"""The model's preprocessing contract, stored as one JSON value in the ONNX metadata.

Export writes it; the runtime reads it with ``json.loads`` (never ``eval``), checks it against the
session's real inputs and outputs, and refuses a model that contradicts itself.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .errors import ModelContractError

log = logging.getLogger(__name__)

METADATA_KEY = "edge_detector.contract"
SCHEMA_VERSION = 1
ORIGINAL = "original"
# The Kaggle FaceForensics++ c23 folders; the order is the one training uses (sorted folder names
# with ``original`` first) and the fallback for models that carry no contract.
FFPP_CLASSES: tuple[str, ...] = (
    "original",
    "DeepFakeDetection",
    "Deepfakes",
    "Face2Face",
    "FaceShifter",
    "FaceSwap",
    "NeuralTextures",
)
PIXEL_RANGES = {"0..255": 255.0, "0..1": 1.0}


@dataclass(frozen=True)
class ModelContract:
    """How to feed the model and how to read its output."""

    class_names: tuple[str, ...]
    input_size: int
    input_name: str = "input"
    layout: str = "NHWC"
    color: str = "RGB"
    dtype: str = "float32"
    pixel_range: str = "0..255"
    output: str = "probabilities"
    crop_margin: float = 1.3
    architecture: str = "unknown"
    model_name: str = "unknown"
    parameters: int | None = None
    trained_on: str = "unknown"
    synthetic_demo: bool = False
    # P_fake at or above which a face is FAKE, chosen on validation data; None: the runtime's 0.5
    threshold: float | None = None
    schema_version: int = SCHEMA_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = tuple(str(c) for c in self.class_names)
        object.__setattr__(self, "class_names", names)
        if len(names) < 2:
            raise ModelContractError(f"model contract needs at least 2 classes, got {list(names)}")
        if ORIGINAL not in names:
            raise ModelContractError(
                f"model contract class names {list(names)} do not contain '{ORIGINAL}'"
            )
        if len(set(names)) != len(names):
            raise ModelContractError(f"model contract has duplicate class names: {list(names)}")
        if self.layout != "NHWC":
            raise ModelContractError(f"unsupported layout {self.layout!r} (only NHWC)")
        if self.color not in ("RGB", "BGR"):
            raise ModelContractError(f"unsupported colour order {self.color!r} (RGB or BGR)")
        if self.pixel_range not in PIXEL_RANGES:
            raise ModelContractError(
                f"unsupported pixel range {self.pixel_range!r} (one of {sorted(PIXEL_RANGES)})"
            )
        if self.output not in ("probabilities", "logits"):
            raise ModelContractError(f"unsupported output kind {self.output!r}")
        if int(self.input_size) < 8:
            raise ModelContractError(f"input size {self.input_size} is too small")
        object.__setattr__(self, "input_size", int(self.input_size))
        if self.threshold is not None:
            try:
                t = float(self.threshold)
            except (TypeError, ValueError):
                t = math.nan
            if not (math.isfinite(t) and 0.0 < t < 1.0):
                raise ModelContractError(f"threshold must be a finite number in (0, 1), "
                                         f"got {self.threshold!r}")
            object.__setattr__(self, "threshold", t)

    @property
    def original_index(self) -> int:
        return self.class_names.index(ORIGINAL)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        d["original_index"] = self.original_index
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelContract:
        if not isinstance(d, dict):
            raise ModelContractError("model contract must be a JSON object")
        known = {f.name for f in fields(cls)}
        missing = [k for k in ("class_names", "input_size") if k not in d]
        if missing:
            raise ModelContractError(f"model contract lacks {', '.join(missing)}")
        if int(d.get("schema_version", SCHEMA_VERSION)) > SCHEMA_VERSION:
            raise ModelContractError(
                f"model contract schema {d['schema_version']} is newer than this runtime's "
                f"{SCHEMA_VERSION}; upgrade edge-deepfake-detector"
            )
        kwargs = {k: v for k, v in d.items() if k in known}
        try:
            contract = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ModelContractError(f"invalid model contract: {exc}") from exc
        if "original_index" in d and int(d["original_index"]) != contract.original_index:
            raise ModelContractError(
                f"model contract says original_index={d['original_index']} but "
                f"'{ORIGINAL}' is class {contract.original_index}"
            )
        return contract

    @classmethod
    def from_json(cls, text: str) -> ModelContract:
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ModelContractError(f"model contract is not valid JSON: {exc}") from exc

    def with_overrides(self, **overrides: Any) -> ModelContract:
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self


def _dim(v: Any) -> int | None:
    return v if isinstance(v, int) and v > 0 else None


def contract_from_session(session: Any, **overrides: Any) -> ModelContract:
    """Read and validate the contract of an onnxruntime session.

    Without metadata the input shape and the seven FF++ classes are assumed (with a warning);
    explicit ``overrides`` (e.g. ``class_names``) win over both.
    """
    inputs, outputs = session.get_inputs(), session.get_outputs()
    if len(inputs) != 1:
        raise ModelContractError(f"model must have exactly one input, found {len(inputs)}")
    if len(outputs) < 1:
        raise ModelContractError("model has no outputs")
    inp = inputs[0]
    shape = list(inp.shape)
    if len(shape) != 4:
        raise ModelContractError(
            f"model input '{inp.name}' has rank {len(shape)} (shape {shape}); expected NHWC rank 4"
        )
    if _dim(shape[3]) not in (None, 3):
        raise ModelContractError(f"model input '{inp.name}' shape {shape} is not NHWC with 3 channels")
    if inp.type != "tensor(float)":
        raise ModelContractError(f"model input '{inp.name}' is {inp.type}; expected tensor(float)")

    meta = session.get_modelmeta().custom_metadata_map
    if METADATA_KEY in meta:
        contract = ModelContract.from_json(meta[METADATA_KEY])
        contract = contract.with_overrides(**overrides)
    else:
        size = _dim(shape[1]) or _dim(shape[2]) or overrides.get("input_size")
        if size is None:
            raise ModelContractError(
                f"model has no '{METADATA_KEY}' metadata and a dynamic input shape {shape}; "
                "pass the input size explicitly"
            )
        guess = {"class_names": FFPP_CLASSES, "input_size": size, **overrides}
        log.warning(
            "model has no '%s' metadata: assuming input %dx%d RGB 0..255 and classes %s",
            METADATA_KEY, guess["input_size"], guess["input_size"], list(guess["class_names"]),
        )
        try:
            contract = ModelContract(**{k: v for k, v in guess.items() if v is not None})
        except TypeError as exc:
            raise ModelContractError(f"invalid contract override: {exc}") from exc
    contract = replace(contract, input_name=inp.name)

    for axis in (1, 2):
        if _dim(shape[axis]) not in (None, contract.input_size):
            raise ModelContractError(
                f"model contract says input {contract.input_size}x{contract.input_size} but the "
                f"graph input '{inp.name}' has shape {shape}"
            )
    out_shape = list(outputs[0].shape)
    if len(out_shape) != 2:
        raise ModelContractError(f"model output has shape {out_shape}; expected (batch, classes)")
    if _dim(out_shape[1]) not in (None, contract.num_classes):
        raise ModelContractError(
            f"model contract lists {contract.num_classes} classes but the output has "
            f"{out_shape[1]} columns"
        )
    return contract
