"""The model's preprocessing contract, stored as one JSON value in the ONNX metadata.

Export writes it; the runtime reads it with ``json.loads`` (never ``eval``), checks it against the
session's real inputs and outputs, and refuses a model that contradicts itself.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .errors import ModelContractError
from .geometry import CropGeometry, as_geometry

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
# The whole metadata value is copied into every summary.json and report: keep it small.
MAX_CONTRACT_BYTES = 64 * 1024
MAX_DEPTH = 8


@dataclass(frozen=True)
class Rule:
    """How one contract field is checked: its type, a closed range or a set of choices, a length.

    Every field of :class:`ModelContract` declares one (``field(metadata=rule(...))``); a new
    field gets type, finiteness and bounds checks by declaring its own.
    """

    kind: type  # int, float, str, bool, tuple (of str) or dict
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] | None = None
    max_len: int | None = None
    optional: bool = False


def rule(kind: type, lo=None, hi=None, *, choices=None, max_len=None, optional=False) -> dict:
    return {"rule": Rule(kind, lo, hi, choices, max_len, optional)}


def _depth(v: Any, level: int = 0) -> int:
    if isinstance(v, dict):
        return max((_depth(x, level + 1) for x in v.values()), default=level + 1)
    if isinstance(v, list | tuple):
        return max((_depth(x, level + 1) for x in v), default=level + 1)
    return level


def check_value(name: str, value: Any, r: Rule) -> Any:
    """``value`` converted to the rule's type, or ModelContractError saying what is wrong."""
    bad = f"model contract field '{name}'"
    if value is None:
        if r.optional:
            return None
        raise ModelContractError(f"{bad} is missing (null)")
    if r.kind is bool:
        if not isinstance(value, bool):  # "false" is a non-empty string: truthy
            raise ModelContractError(f"{bad} must be true or false, got {value!r:.40}")
        return value
    if r.kind in (int, float):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if r.kind is int:
            ok = ok and isinstance(value, numbers.Integral)
        if not ok:
            raise ModelContractError(f"{bad} must be a{'n integer' if r.kind is int else ' number'},"
                                     f" got {value!r:.40}")
        value = r.kind(value)
        if not math.isfinite(value):
            raise ModelContractError(f"{bad} must be finite, got {value}")
        if (r.lo is not None and value < r.lo) or (r.hi is not None and value > r.hi):
            raise ModelContractError(f"{bad} must be in [{r.lo}, {r.hi}], got {value}")
        return value
    if r.kind is str:
        if not isinstance(value, str):
            raise ModelContractError(f"{bad} must be a string, got {value!r:.40}")
        if r.choices is not None and value not in r.choices:
            raise ModelContractError(f"{bad} is {value!r:.40}; supported: {', '.join(r.choices)}")
        if r.max_len is not None and len(value) > r.max_len:
            raise ModelContractError(f"{bad} is longer than {r.max_len} characters")
        return value
    if r.kind is tuple:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ModelContractError(f"{bad} must be a list of strings")
        if not (r.lo or 0) <= len(value) <= (r.hi or math.inf):
            raise ModelContractError(f"{bad} must have {r.lo} to {r.hi} items, got {len(value)}")
        if r.max_len is not None and any(not 0 < len(v) <= r.max_len for v in value):
            raise ModelContractError(f"{bad} items must be 1 to {r.max_len} characters")
        return tuple(value)
    if r.kind is dict:
        if not isinstance(value, dict):
            raise ModelContractError(f"{bad} must be a JSON object")
        if _depth(value) > MAX_DEPTH:
            raise ModelContractError(f"{bad} is nested deeper than {MAX_DEPTH} levels")
        try:
            size = len(json.dumps(value, allow_nan=False, default=str))
        except (ValueError, TypeError) as exc:
            raise ModelContractError(f"{bad} is not plain JSON: {exc}") from exc
        if r.max_len is not None and size > r.max_len:
            raise ModelContractError(f"{bad} is {size} bytes as JSON, over {r.max_len}")
        return value
    raise TypeError(f"no check for rule kind {r.kind}")  # pragma: no cover (programming error)


@dataclass(frozen=True)
class ModelContract:
    """How to feed the model and how to read its output."""

    class_names: tuple[str, ...] = field(metadata=rule(tuple, 0, 1000, max_len=200))
    input_size: int = field(metadata=rule(int, 8, 1024))
    input_name: str = field(default="input", metadata=rule(str, max_len=256))
    layout: str = field(default="NHWC", metadata=rule(str, max_len=16))
    color: str = field(default="RGB", metadata=rule(str, max_len=16))
    # (no dtype field: the graph's input must be tensor(float), checked in contract_from_session;
    # an old contract's "dtype" key is ignored like any unknown key)
    pixel_range: str = field(default="0..255", metadata=rule(str, max_len=16))
    output: str = field(default="probabilities", metadata=rule(str, max_len=32))
    crop_margin: float = field(default=1.3, metadata=rule(float, 0.25, 4.0))
    # Where the training crops lie relative to the detector box; None: a centred square of
    # ``crop_margin``. Optional, so runtimes that predate it still load the contract and fall back
    # to ``crop_margin`` (export sets it to the geometry's scale).
    crop_geometry: CropGeometry | None = field(default=None,
                                               metadata=rule(dict, optional=True, max_len=1024))
    architecture: str = field(default="unknown", metadata=rule(str, max_len=1000))
    model_name: str = field(default="unknown", metadata=rule(str, max_len=1000))
    parameters: int | None = field(default=None, metadata=rule(int, 0, 10**12, optional=True))
    trained_on: str = field(default="unknown", metadata=rule(str, max_len=4000))
    synthetic_demo: bool = field(default=False, metadata=rule(bool))
    # P_fake at or above which a face is FAKE, chosen on validation data; None: the runtime's 0.5
    threshold: float | None = field(default=None, metadata=rule(float, 0.0, 1.0, optional=True))
    # How ``threshold`` was chosen (shown in cards and reports).
    threshold_method: str | None = field(default=None,
                                         metadata=rule(str, max_len=1000, optional=True))
    # Three-level verdict: P_fake below ``threshold_real`` is REAL, at or above
    # ``threshold_fake`` FAKE, in between UNCERTAIN; both or neither (then two levels).
    threshold_real: float | None = field(default=None,
                                         metadata=rule(float, 0.0, 1.0, optional=True))
    threshold_fake: float | None = field(default=None,
                                         metadata=rule(float, 0.0, 1.0, optional=True))
    band_rule: str | None = field(default=None, metadata=rule(str, max_len=1000, optional=True))
    schema_version: int = field(default=SCHEMA_VERSION, metadata=rule(int, 1, 10**6))
    extra: dict[str, Any] = field(default_factory=dict, metadata=rule(dict, max_len=32 * 1024))

    def __post_init__(self) -> None:
        if isinstance(self.crop_geometry, CropGeometry):  # checked as the JSON it is stored as
            object.__setattr__(self, "crop_geometry", asdict(self.crop_geometry))
        for f in fields(self):  # type, finiteness and range of every field, by its declared rule
            if "rule" in f.metadata:
                object.__setattr__(self, f.name, check_value(f.name, getattr(self, f.name),
                                                             f.metadata["rule"]))
        names = self.class_names
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
        if self.threshold is not None and not 0.0 < self.threshold < 1.0:
            raise ModelContractError(f"threshold must be a finite number in (0, 1), "
                                     f"got {self.threshold!r}")
        self._check_band()
        self._check_geometry()

    def _check_band(self) -> None:
        lo, hi = self.threshold_real, self.threshold_fake
        if (lo is None) != (hi is None):
            raise ModelContractError("model contract gives only one of threshold_real and "
                                     "threshold_fake: a three-level verdict needs both")
        if lo is None:
            return
        if not 0.0 < lo < hi < 1.0:
            raise ModelContractError(f"inconsistent verdict band: need 0 < threshold_real < "
                                     f"threshold_fake < 1, got {lo!r} and {hi!r}")
        if self.threshold is not None and not lo <= self.threshold <= hi:
            raise ModelContractError(f"inconsistent verdict band: threshold {self.threshold!r} "
                                     f"lies outside [{lo!r}, {hi!r}]")

    @property
    def band(self) -> tuple[float, float] | None:
        """(threshold_real, threshold_fake) of a three-level model, else None."""
        if self.threshold_real is None or self.threshold_fake is None:
            return None
        return self.threshold_real, self.threshold_fake

    def _check_geometry(self) -> None:
        try:
            if self.crop_geometry is not None:
                object.__setattr__(self, "crop_geometry", CropGeometry.from_dict(self.crop_geometry))
            else:
                as_geometry(self.crop_margin)
        except (TypeError, ValueError) as exc:
            raise ModelContractError(f"invalid crop geometry in model contract: {exc}") from exc

    @property
    def geometry(self) -> CropGeometry:
        """The crop the model was trained on: ``crop_geometry``, else a square ``crop_margin``."""
        return self.crop_geometry if self.crop_geometry is not None else as_geometry(self.crop_margin)

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
        version = check_value("schema_version", d.get("schema_version", SCHEMA_VERSION),
                              fields_rule("schema_version"))
        if version > SCHEMA_VERSION:
            raise ModelContractError(
                f"model contract schema {d['schema_version']} is newer than this runtime's "
                f"{SCHEMA_VERSION}; upgrade edge-deepfake-detector"
            )
        kwargs = {k: v for k, v in d.items() if k in known}
        try:
            contract = cls(**kwargs)
        except (TypeError, ValueError) as exc:
            raise ModelContractError(f"invalid model contract: {exc}") from exc
        index = d.get("original_index")
        if index is not None and check_value("original_index", index, Rule(int, 0, 999)) \
                != contract.original_index:
            raise ModelContractError(
                f"model contract says original_index={d['original_index']} but "
                f"'{ORIGINAL}' is class {contract.original_index}"
            )
        return contract

    @classmethod
    def from_json(cls, text: str) -> ModelContract:
        if len(text) > MAX_CONTRACT_BYTES:
            raise ModelContractError(
                f"model contract is {len(text)} bytes; at most {MAX_CONTRACT_BYTES} are accepted"
            )
        try:
            data = json.loads(text, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise ModelContractError(f"model contract is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ModelContractError("model contract is nested too deeply") from exc
        return cls.from_dict(data)

    def with_overrides(self, **overrides: Any) -> ModelContract:
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(self, **given) if given else self


def fields_rule(name: str) -> Rule:
    return next(f.metadata["rule"] for f in fields(ModelContract) if f.name == name)


def _no_constant(name: str) -> Any:
    raise ModelContractError(f"model contract holds {name}, which is not a finite number")


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
