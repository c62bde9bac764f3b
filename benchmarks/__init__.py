"""Latency, throughput and memory benchmarks; entry point ``python benchmarks/latency.py``."""
