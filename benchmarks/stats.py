"""Timing loops and the percentile record every latency measurement is reported as."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Latency:
    """Per-call wall time percentiles in ms over ``n`` timed calls (after warm-up)."""

    n: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float

    @classmethod
    def of(cls, samples_ms: list[float] | np.ndarray) -> Latency:
        a = np.asarray(samples_ms, np.float64)
        p50, p90, p99 = np.percentile(a, [50, 90, 99])
        return cls(len(a), float(p50), float(p90), float(p99), float(a.mean()), float(a.min()))

    def per_item(self, batch: int) -> Latency:
        """The same numbers divided by the batch size (ms per image)."""
        b = float(batch)
        return Latency(self.n, self.p50_ms / b, self.p90_ms / b, self.p99_ms / b,
                       self.mean_ms / b, self.min_ms / b)


@dataclass(frozen=True)
class TimingPlan:
    """How long to measure: ``runs`` timed calls after ``warmup`` calls (and at least
    ``warmup_seconds``: ORT runs small models ~2x slower for the first few hundred calls),
    stopping early after ``max_seconds`` once ``min_runs`` calls were timed."""

    runs: int = 200
    warmup: int = 10
    max_seconds: float = 4.0
    min_runs: int = 20
    rounds: int = 4
    warmup_seconds: float = 1.0


def warm_up(fn: Callable[[], object], plan: TimingPlan) -> None:
    """At least ``plan.warmup`` calls and ``plan.warmup_seconds`` of calling ``fn``."""
    deadline = time.perf_counter() + plan.warmup_seconds
    n = 0
    while n < plan.warmup or (plan.warmup and time.perf_counter() < deadline):
        fn()
        n += 1


def time_calls(fn: Callable[[], object], plan: TimingPlan) -> Latency:
    """Call ``fn`` repeatedly and return the per-call latency distribution."""
    warm_up(fn, plan)
    samples: list[float] = []
    deadline = time.perf_counter() + plan.max_seconds
    while len(samples) < plan.runs:
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
        if len(samples) >= plan.min_runs and time.perf_counter() > deadline:
            break
    return Latency.of(samples)


def time_interleaved(fns: dict[Hashable, Callable[[], object]], plan: TimingPlan
                     ) -> dict[Hashable, Latency]:
    """Like :func:`time_calls` for several callables, in ``plan.rounds`` interleaved blocks.

    On a shared machine load comes and goes; spreading each measurement over rounds makes every
    callable see the same mix of quiet and busy moments, so their ratios stay meaningful. Each
    block starts with ``plan.warmup`` untimed calls (caches are cold after another callable).
    """
    rounds = max(1, plan.rounds)
    for fn in fns.values():
        warm_up(fn, plan)
    samples: dict[Hashable, list[float]] = {k: [] for k in fns}
    for r in range(rounds):
        for key, fn in fns.items():
            target = plan.runs * (r + 1) // rounds
            floor = plan.min_runs * (r + 1) // rounds
            for _ in range(plan.warmup if r else 0):  # re-warm after the other callables ran
                fn()
            deadline = time.perf_counter() + plan.max_seconds / rounds
            got = samples[key]
            while len(got) < target:
                t0 = time.perf_counter()
                fn()
                got.append((time.perf_counter() - t0) * 1e3)
                if len(got) >= floor and time.perf_counter() > deadline:
                    break
    return {k: Latency.of(v) for k, v in samples.items()}
