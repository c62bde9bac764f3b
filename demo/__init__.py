"""``make demo``: the end-to-end orchestration over ``train``, ``export`` and ``edge_detector``."""
