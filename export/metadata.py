"""Write / read the model contract in ONNX ``metadata_props``, exactly where the runtime reads it."""

from __future__ import annotations

import onnx

from edge_detector.contract import METADATA_KEY, ModelContract


def embed_contract(proto: onnx.ModelProto, contract: ModelContract) -> onnx.ModelProto:
    """Set (or replace) the contract entry; other metadata entries are kept."""
    keep = [(p.key, p.value) for p in proto.metadata_props if p.key != METADATA_KEY]
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, {**dict(keep), METADATA_KEY: contract.to_json()})
    return proto


def read_contract(proto: onnx.ModelProto) -> ModelContract | None:
    """The contract stored in ``proto``, or None when it carries none."""
    for p in proto.metadata_props:
        if p.key == METADATA_KEY:
            return ModelContract.from_json(p.value)
    return None
