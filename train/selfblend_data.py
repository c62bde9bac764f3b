"""``python -m train self-blend``: add self-blended pseudo-fakes to a data folder as a class.

Pseudo-fakes enter the labels as their own class, ``SelfBlended``, appended after the FF++
methods: the model still answers P_fake = 1 - P(original), and keeping them apart from the real
methods means a real method's recall and per-method AUC are not blurred by them. Each one is a
"video" of its source crop's group (same identity, same split), so no split leaks. The test split
gets none by default: test numbers stay comparable with models trained without them.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from edge_detector.contract import ORIGINAL
from edge_detector.cvfiles import read_image, write_image

from .errors import ConfigError
from .etl import CLASSES_JSON
from .manifest import DONE, OK, ManifestRow, ManifestWriter, crops
from .selfblend import self_blend

log = logging.getLogger(__name__)

SELF_BLENDED = "SelfBlended"


def add_self_blended(data_dir: str | Path, per_original: int = 1,
                     splits: tuple[str, ...] = ("train", "val"), seed: int = 0) -> int:
    """Write ``per_original`` pseudo-fakes of each original crop of ``splits``; returns how many."""
    data = Path(data_dir)
    df = crops(data)
    if (df["class"] == SELF_BLENDED).any():
        raise ConfigError(f"{data} already has {SELF_BLENDED} crops: start from a fresh data "
                          "folder to make them again")
    src = df[(df["class"] == ORIGINAL) & df["split"].isin(splits)].sort_values("crop")
    if src.empty:
        raise ConfigError(f"{data} has no '{ORIGINAL}' crops in splits {list(splits)}")
    classes = json.loads((data / CLASSES_JSON).read_text())
    n = 0
    with ManifestWriter(data) as writer:
        for i, row in enumerate(tqdm(src.itertuples(index=False), total=len(src),
                                     desc="self-blend", unit="crop")):
            img = read_image(data / row.crop)
            if img is None:
                raise ConfigError(f"cannot read crop {data / row.crop}")
            for k in range(per_original):
                rng = np.random.default_rng([seed, i, k])
                blend = self_blend(img, rng)
                rel = Path(row.split) / SELF_BLENDED / f"{Path(row.crop).stem}_sbi{k}.png"
                (data / rel).parent.mkdir(parents=True, exist_ok=True)
                if not write_image(data / rel, blend.image):
                    raise OSError(f"cannot write {data / rel}")
                video = f"{row.video}#sbi{k}"
                base = dict(video=video, cls=SELF_BLENDED, group=row.group, split=row.split)
                writer.write_video([
                    ManifestRow(**base, frame=0, crop=rel.as_posix(), status=OK,
                                detail=f"self-blend of {row.crop}"),
                    ManifestRow(**base, frame=-1, status=DONE, detail="1/1 crops"),
                ])
                n += 1
    if SELF_BLENDED not in classes:
        (data / CLASSES_JSON).write_text(json.dumps([*classes, SELF_BLENDED]))
    log.info("%d self-blended crops -> %s", n, data)
    return n
