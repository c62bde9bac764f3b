"""Classifier latency with ONNX Runtime: every file x thread count x batch size."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge_detector.classifier import make_session
from edge_detector.contract import ModelContract
from edge_detector.preprocess import preprocess

from .macs import count_macs
from .model_files import ModelFiles, read_contract
from .results import ModelResult, OrtCell, VariantResult
from .stats import TimingPlan, time_interleaved

log = logging.getLogger(__name__)


def sample_input(contract: ModelContract, batch: int, seed: int = 0) -> np.ndarray:
    """Random BGR crops through the runtime's own preprocess (the real input distribution)."""
    rng = np.random.default_rng(seed)
    size = contract.input_size
    crops = rng.integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    return preprocess(crops, contract)


def ort_call(path: Path, contract: ModelContract, threads: int, batch: int) -> Callable[[], object]:
    """``session.run`` alone on an already preprocessed batch (what the latency columns time).

    The classifier alone is timed with ORT's spinning workers (its default, fastest in isolation);
    the pipeline turns spinning off because idle spinning steals the detector's core.
    """
    sess = make_session(path, threads, spinning=True)
    name, out = sess.get_inputs()[0].name, sess.get_outputs()[0].name
    x = sample_input(contract, batch)
    return lambda: sess.run([out], {name: x})


def _variant(precision: str, path: Path, origin: str | None) -> VariantResult:
    macs = count_macs(path)
    v = VariantResult(precision, str(path), origin or "", path.stat().st_size, macs.macs,
                      macs.parameters)
    notes = []
    if macs.uncounted_nodes:
        notes.append(f"{macs.uncounted_nodes} conv/matmul nodes had unknown shapes (not counted)")
    if precision == "int8":
        q = read_contract(path)
        agreement = (q.extra.get("quantization") or {}).get("agreement") if q else None
        if agreement:
            ties = agreement.get("ties") or 0
            notes.append(f"top-1 agreement with fp32 {agreement.get('top1_agreement', 0):.2%} on "
                         f"{agreement.get('n', '?')} crops ({agreement.get('source', '?')})"
                         + (f", {ties} near-ties (random weights)" if ties else ""))
    v.note = "; ".join(notes) or None
    return v


def bench_model(m: ModelFiles, threads: list[int], batches: list[int], plan: TimingPlan) -> ModelResult:
    """All ORT measurements of one model (fp32 and, when present, int8), interleaved."""
    c = m.contract
    result = ModelResult(m.name, m.architecture, c.input_size, 0, m.random_weights)
    calls: dict[tuple[str, int, int], Callable[[], object]] = {}
    for precision, path, origin in (("fp32", m.fp32, m.origin), ("int8", m.int8, m.int8_origin)):
        if path is None:
            continue
        v = _variant(precision, path, origin)
        result.variants.append(v)
        result.parameters = result.parameters or int(c.parameters or v.graph_parameters)
        for t in threads:
            for b in batches:
                calls[(precision, t, b)] = ort_call(path, c, t, b)
    timed = time_interleaved(calls, plan)
    for (precision, t, b), lat in timed.items():
        per = lat.per_item(b)
        cell = OrtCell(t, b, per, 1e3 / per.p50_ms if per.p50_ms > 0 else float("inf"))
        result.variant(precision).ort.append(cell)  # type: ignore[union-attr]
        log.info("%s %s threads=%d batch=%d: p50 %.3f ms/img", m.name, precision, t, b, per.p50_ms)
    if m.fp32 is None:
        result.notes.append("no fp32 file given")
    if m.int8 is None:
        result.notes.append("no int8 file (none given, none could be made, or --no-int8)")
    return result
