"""One small class per ONNX classifier: session injectable, contract read from the model."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from .contract import ModelContract, contract_from_session
from .errors import ModelError
from .fsnames import display_name, not_a_file
from .preprocess import preprocess
from .types import PROB_RANGE_TOLERANCE as RANGE_TOLERANCE
from .types import PROB_SUM_TOLERANCE as SUM_TOLERANCE


def default_threads() -> int:
    """Two intra-op threads suit the small edge CPUs this runs on; never more than the cores."""
    return max(1, min(2, os.cpu_count() or 1))


def make_session(
    model_path: str | os.PathLike, threads: int | None = None, spinning: bool = False
) -> ort.InferenceSession:
    """A CPU session; ``spinning=True`` (ORT's default) suits a classifier that runs alone."""
    path = Path(model_path)
    problem = not_a_file(path, "model file")
    if problem:
        raise ModelError(problem)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # ORT's idle workers spin after each call and steal a core from the face detector that runs
    # next: 24.5 -> 33.9 FPS end to end on 2 cores when off, for ~8% on an isolated ORT call.
    opts.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    try:
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises several unrelated exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"cannot load ONNX model {display_name(path)}: {first}") from exc


class OnnxClassifier:
    """Face-forgery classifier: BGR uint8 crops in, class probabilities out."""

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        session: ort.InferenceSession | None = None,
        threads: int | None = None,
        **contract_overrides: Any,
    ) -> None:
        if session is None:
            if model_path is None:
                raise ModelError("OnnxClassifier needs a model path or a session")
            session = make_session(model_path, threads)
        self.session = session
        self.path = Path(model_path) if model_path is not None else None
        self.contract: ModelContract = contract_from_session(session, **contract_overrides)
        self._output_name = session.get_outputs()[0].name
        self._buf: np.ndarray | None = None
        # A graph exported with a fixed batch accepts exactly that many faces per call.
        batch = session.get_inputs()[0].shape[0]
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        if self.fixed_batch not in (None, 1):
            raise ModelError(f"model input has a fixed batch of {batch}; export it with a dynamic "
                             "batch (or batch 1)")

    @property
    def input_size(self) -> int:
        return self.contract.input_size

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.contract.class_names

    def predict(self, crops_bgr: np.ndarray) -> np.ndarray:
        """(n, s, s, 3) BGR uint8 crops -> (n, C) float32 probabilities, one batched call."""
        n = len(crops_bgr)
        if n == 0:
            return np.zeros((0, self.contract.num_classes), np.float32)
        size = self.contract.input_size
        if self._buf is None or self._buf.shape[0] < n:
            self._buf = np.empty((max(n, 4), size, size, 3), np.float32)
        x = preprocess(crops_bgr, self.contract, out=self._buf)
        if self.fixed_batch == 1:  # one face per call
            y = np.concatenate([self._run(x[i : i + 1], 1) for i in range(n)])
        else:
            y = self._run(x, n)
        return self.check_output(y)

    def _run(self, x: np.ndarray, n: int) -> np.ndarray:
        try:
            (y,) = self.session.run([self._output_name], {self.contract.input_name: x})
        except Exception as exc:
            raise ModelError(f"model inference failed: {str(exc).splitlines()[0]}") from exc
        y = np.asarray(y, dtype=np.float32)
        if y.size != n * self.contract.num_classes:
            raise ModelError(
                f"model returned {y.size} scores for {n} faces but its contract lists "
                f"{self.contract.num_classes} classes"
            )
        return y.reshape(n, -1)

    def check_output(self, y: np.ndarray) -> np.ndarray:
        """Probabilities the verdicts can trust, or a ModelError: finite, in [0, 1] and summing
        to 1 per face; a declared ``logits`` output only has to be finite and gets a softmax."""
        if not np.isfinite(y).all():
            raise ModelError("model returned NaN or infinite scores; it is broken or not this "
                             "runtime's kind of model")
        if self.contract.output == "logits":
            y = np.exp(y - y.max(axis=1, keepdims=True))
            return y / y.sum(axis=1, keepdims=True)
        if y.min() < -RANGE_TOLERANCE or y.max() > 1 + RANGE_TOLERANCE:
            raise ModelError(
                f"model returned scores outside [0, 1] (min {y.min():.3g}, max {y.max():.3g}) but "
                "its contract declares probabilities (logits need \"output\": \"logits\")"
            )
        sums = y.sum(axis=1)
        if np.abs(sums - 1).max() > SUM_TOLERANCE:
            raise ModelError(f"model scores do not sum to 1 per face (got {sums[0]:.4g}); its "
                             "contract declares probabilities")
        return np.clip(y, 0.0, 1.0)
