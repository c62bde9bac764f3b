"""Export writes the crop geometry recorded in the run's data folder (import-crops) into the contract."""

from __future__ import annotations

import json
import shutil

import pytest

from edge_detector import OnnxClassifier
from edge_detector.geometry import CropGeometry
from export.errors import ExportError
from tests.export.conftest import CLASSES, SIZE

pytestmark = pytest.mark.slow

GEOMETRY = {"scale": 0.91, "shift_x": 0.01, "shift_y": 0.07, "square": True}


def _run_with_data_folder(tmp_path, record: dict, model_file, crops=None):
    """A run folder of the session's scratch CNN whose config points at a data folder with
    ``record`` as its etl_config.json (copying the model is cheaper than building one).

    ``crops``: a crop folder to copy in, for exports to check parity on: the probed head only
    separates the tinted crops it was fitted on, and export refuses a model near-constant on
    generated ones.
    """
    data = tmp_path / "data"
    if crops is not None:
        shutil.copytree(crops, data)
    data.mkdir(exist_ok=True)
    (data / "etl_config.json").write_text(json.dumps(record))
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_file, run / "model.keras")
    (run / "classes.json").write_text(json.dumps(list(CLASSES)))
    (run / "config.json").write_text(json.dumps(
        {"arch": "scratch", "input_size": SIZE, "data_dir": str(data)}))
    return run


def test_export_writes_the_data_folders_geometry_into_the_contract(tmp_path, scratch_run,
                                                                   crop_dir):
    from export.onnx_export import export_model

    run = _run_with_data_folder(tmp_path, {"source": "import-crops", "crop_geometry": GEOMETRY,
                                           "resume_key": {"margin": 0.91}},
                                scratch_run / "model.keras", crop_dir)
    res = export_model(run, tmp_path / "m.onnx", data_dir=tmp_path / "data", parity_count=8)
    c = OnnxClassifier(res.onnx_path).contract
    assert c.crop_geometry == CropGeometry(**GEOMETRY) == c.geometry
    assert c.crop_margin == 0.91  # what a runtime without crop_geometry falls back to
    card = json.loads(res.card_path.read_text())
    assert card["contract"]["crop_geometry"] == GEOMETRY


def test_export_refuses_an_invalid_recorded_geometry(tmp_path, scratch_run):
    from export.source import load_source

    run = _run_with_data_folder(tmp_path, {"crop_geometry": {**GEOMETRY, "scale": 40}},
                                scratch_run / "model.keras")
    with pytest.raises(ExportError, match="invalid crop_geometry.*scale"):
        load_source(run)
