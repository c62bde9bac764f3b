"""End to end on generated data: videos -> ETL -> fit (scratch) -> evaluate, beating chance.

Tuned to run in well under a minute on 2 cores: 64 px crops and input, batch 8. BatchNorm momentum
follows the steps per epoch (train.fit.bn_momentum), so its statistics are warm after one epoch.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tests.conftest import TRAIN_EPOCHS as EPOCHS
from train.cli import main

pytestmark = pytest.mark.slow

@pytest.fixture(scope="module")
def trained(trained_model):
    """The session's one trained model (tests/conftest.py)."""
    return trained_model


def test_synthetic_etl_is_complete_and_balanced(synthetic_etl):
    info, res = synthetic_etl
    assert res.failed == {} and res.faceless_frames == 0 and res.unreadable_frames == 0
    assert res.processed == len(info.videos) == 24 * 5
    crops = res.table.pivot(index="class", columns="split", values="crops")
    assert (crops > 0).all().all()  # every class in every split
    assert crops["train"].sum() > 2 * crops["test"].sum()


def test_fit_writes_the_run_folder(trained):
    run = trained.run_dir
    for name in ("model.keras", "history.csv", "training_curves.png", "config.json",
                 "classes.json", "run.json"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    hist = pd.read_csv(run / "history.csv")
    record = json.loads((run / "run.json").read_text())
    # early stopping and the checkpoint wait for the BatchNorm warm-up (one epoch here)
    assert record["selection_start_epoch"] == 1 and record["bn_momentum"] < 0.99
    assert 2 <= len(hist) <= EPOCHS and not hist["selectable"].iloc[0]
    assert trained.best_epoch >= record["selection_start_epoch"]
    assert record["degenerate"] is None and 0 < record["threshold"] < 1
    for col in ("loss", "accuracy", "auc", "val_loss", "val_accuracy", "val_auc",
                "train_images_per_s", "learning_rate"):
        assert col in hist, col
    assert hist["loss"].iloc[-1] < hist["loss"].iloc[0]
    assert hist["learning_rate"].iloc[-1] < hist["learning_rate"].iloc[0]  # cosine decay
    config = json.loads((run / "config.json").read_text())
    assert config["arch"] == "scratch" and config["batch_size"] == 8
    assert config["learning_rate"] == 1e-3 and "git_commit" in config
    assert record["train_images_per_s"] > 0 and record["pipeline_images_per_s"] > 0
    assert record["parameters"] == trained.parameters == 175_495 - 2 * 129
    assert record["best_val_auc"] == pytest.approx(hist.loc[hist["selectable"], "val_auc"].max())
    assert json.loads((run / "classes.json").read_text()) == list(trained.classes)
    assert record["contract"]["pixel_range"] == "0..255" and record["contract"]["color"] == "RGB"


def test_trained_model_beats_chance_on_held_out_identities(trained, synthetic_etl, tmp_path,
                                                           capsys):
    data_dir = synthetic_etl[1].data_dir
    out = tmp_path / "report"
    rc = main(["-q", "evaluate", str(trained.model_path), "--data", str(data_dir),
               "--split", "test", "--out", str(out)])
    assert rc == 0
    printed = capsys.readouterr().out
    assert "5-class accuracy" in printed
    m = json.loads((out / "metrics.json").read_text())
    chance = 1 / len(m["classes"])
    assert m["split"] == "test" and m["frames"] >= 60
    assert m["multiclass"]["accuracy"] > 3 * chance, m["multiclass"]
    assert m["multiclass"]["macro_f1"] > 0.5
    assert m["binary_frame"]["auc"] > 0.85, m["binary_frame"]
    assert m["binary_video"]["auc"] > 0.85, m["binary_video"]
    assert m["binary_frame"]["eer"] < 0.25
    for name in ("summary.md", "predictions.csv", "confusion_matrix.png", "roc.png"):
        assert (out / name).is_file()
