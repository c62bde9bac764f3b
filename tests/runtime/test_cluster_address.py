"""Issue 19, class 7: --cluster addresses are validated before Dask is imported; local:N is bounded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from edge_detector.cluster import check_address, max_local_workers, parse_local
from edge_detector.errors import UsageError

REPO = Path(__file__).resolve().parents[2]

GOOD = ["local", "local:1", f"local:{max_local_workers()}", "tcp://sched:8786", "tcp://10.1.2.3:8786",
        "tcp://[::1]:8786", "tls://host.example.org:8786", "tcp://host"]
BAD = [("tcp://", "bad host or port"), ("inproc://x", "inproc:// is not supported"),
       ("http://x y", "http:// is not supported"), ("local:999", "local:N"), ("local:0", "local:N"),
       ("local:-1", "local:N"), ("local:two", "local:N"), ("tcp://host:99999", "bad host or port"),
       ("tcp://a b:1", "bad host or port"), ("sched:8786", "not an address"),
       ("tcp://host:", "bad host or port"), ("ucx://h:1", "ucx:// is not supported")]


@pytest.mark.parametrize("address", GOOD)
def test_good_addresses(address):
    assert check_address(address) == address


@pytest.mark.parametrize("address, message", BAD)
def test_bad_addresses_are_usage_errors(address, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_local(address)
    assert info.value.exit_code == 2


def test_local_workers_are_bounded_by_the_cores():
    assert 1 <= max_local_workers() <= 64
    with pytest.raises(UsageError):
        check_address(f"local:{max_local_workers() + 1}")


@pytest.mark.parametrize("address, message", [BAD[1], BAD[3]])
def test_the_etl_validates_too(tmp_path, address, message):
    (tmp_path / "ds").mkdir()
    r = subprocess.run([sys.executable, "-m", "train", "etl", str(tmp_path / "ds"), "--out",
                        str(tmp_path / "out"), "--cluster", address],
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
