"""Train/val/test splits that never let a person (identity) appear in two splits.

``identity``: videos sharing any id (``519`` and ``519_515``, chains ``A_B``, ``B_C``) are joined
by union-find into one group; groups are assigned greedily to reach 70/15/15. ``official``: FF++'s
``train/val/test.json`` pair lists. ``video``: per-class random split, for comparison only (it
leaks identities). All modes are deterministic for a given seed.
"""

from __future__ import annotations

import json
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, MissingFileError
from .layout import VideoItem

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.70, 0.15, 0.15)
SPLIT_MODES = ("identity", "official", "video")


@dataclass(frozen=True)
class Assignment:
    """Where one video goes: its identity ``group`` and its ``split``."""

    group: str
    split: str


class UnionFind:
    """Disjoint sets over hashable items (path halving)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # smallest id names the group: deterministic


def identity_groups(videos: list[VideoItem]) -> dict[str, str]:
    """Video key -> group name (the smallest id of its connected component)."""
    uf = UnionFind()
    for v in videos:
        for i in v.ids:
            uf.union(v.ids[0], i)
    return {v.key: uf.find(v.ids[0]) for v in videos}


def assign_groups(sizes: dict[str, int], seed: int,
                  fractions: tuple[float, ...] = DEFAULT_FRACTIONS) -> dict[str, str]:
    """Group -> split, greedily filling the split furthest below its target video count.

    Groups are shuffled with ``seed`` then taken largest first. While there are no more groups
    left than splits still empty, each group goes to an empty split, so every split that can get
    a group gets one.
    """
    if len(fractions) != len(SPLITS) or abs(sum(fractions) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be 3 numbers summing to 1, got {fractions}")
    names = sorted(sizes)
    random.Random(seed).shuffle(names)
    names.sort(key=lambda g: -sizes[g])  # stable: ties keep the seeded order
    total = sum(sizes.values())
    filled = dict.fromkeys(SPLITS, 0)
    wanted = [s for s, f in zip(SPLITS, fractions, strict=True) if f > 0]
    target = {s: f * total for s, f in zip(SPLITS, fractions, strict=True)}
    out: dict[str, str] = {}
    for i, g in enumerate(names):
        empty = [s for s in wanted if filled[s] == 0]
        pool = empty if empty and len(names) - i <= len(empty) else wanted
        split = max(pool, key=lambda s: (target[s] - filled[s], -SPLITS.index(s)))
        out[g] = split
        filled[split] += sizes[g]
    return out


def _identity(videos: list[VideoItem], seed: int,
              fractions: tuple[float, ...]) -> dict[str, Assignment]:
    groups = identity_groups(videos)
    sizes: dict[str, int] = defaultdict(int)
    for g in groups.values():
        sizes[g] += 1
    big = max(sizes.values()) if sizes else 0
    if big > 0.15 * len(videos) and len(videos) >= 40:
        log.warning("one identity group holds %d of %d videos; splits will be uneven",
                    big, len(videos))
    split_of = assign_groups(dict(sizes), seed, fractions)
    return {k: Assignment(g, split_of[g]) for k, g in groups.items()}


def _video(videos: list[VideoItem], seed: int,
           fractions: tuple[float, ...]) -> dict[str, Assignment]:
    out: dict[str, Assignment] = {}
    for cls in sorted({v.cls for v in videos}):
        keys = sorted(v.key for v in videos if v.cls == cls)
        split_of = assign_groups(dict.fromkeys(keys, 1), seed, fractions)
        out.update({k: Assignment(k, split_of[k]) for k in keys})
    return out


def load_official_pairs(splits_dir: str | Path) -> dict[str, str]:
    """Id -> split from FF++'s ``train.json``/``val.json``/``test.json`` ([[a, b], ...] each)."""
    splits_dir = Path(splits_dir)
    out: dict[str, str] = {}
    for split in SPLITS:
        path = splits_dir / f"{split}.json"
        if not path.is_file():
            raise MissingFileError(f"official split file not found: {path}")
        try:
            pairs = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
        for pair in pairs:
            for i in pair:
                if out.get(str(i), split) != split:
                    raise ConfigError(f"id {i} is in both {out[str(i)]} and {split} in {splits_dir}")
                out[str(i)] = split
    return out


def _official(videos: list[VideoItem], seed: int, fractions: tuple[float, ...],
              splits_dir: str | Path) -> dict[str, Assignment]:
    id_split = load_official_pairs(splits_dir)
    groups = identity_groups(videos)
    out: dict[str, Assignment] = {}
    uncovered = []
    for v in videos:
        found = {id_split[i] for i in v.ids if i in id_split}
        if len(found) > 1:
            raise ConfigError(f"{v.key}: its ids fall in different official splits {sorted(found)}")
        if found:
            out[v.key] = Assignment(groups[v.key], found.pop())
        else:
            uncovered.append(v)
    if uncovered:
        log.warning("%d videos (e.g. %s) are not in the official lists: split by identity",
                    len(uncovered), uncovered[0].key)
        out.update(_identity(uncovered, seed, fractions))
    return out


def assign_splits(videos: list[VideoItem], mode: str = "identity", seed: int = 0,
                  fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
                  splits_dir: str | Path | None = None) -> dict[str, Assignment]:
    """Video key -> :class:`Assignment` for every video, by ``mode`` (see module docstring)."""
    if mode == "identity":
        return _identity(videos, seed, fractions)
    if mode == "video":
        return _video(videos, seed, fractions)
    if mode == "official":
        if splits_dir is None:
            raise ConfigError("--split official needs --splits-dir with train/val/test.json")
        return _official(videos, seed, fractions, splits_dir)
    raise ConfigError(f"unknown split mode {mode!r}; choose one of {', '.join(SPLIT_MODES)}")
