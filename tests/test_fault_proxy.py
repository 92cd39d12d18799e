"""The fault proxy the soak puts in front of S3: it passes, hangs, or fails fast, on command."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from tests import services
from tests.fault_proxy import FaultProxy


@pytest.fixture
def proxy(s3_endpoint):
    with FaultProxy(s3_endpoint) as running:
        yield running


def test_a_passing_proxy_forwards_requests_and_answers(proxy, s3_bucket):
    s3 = services.s3_client(proxy.url)
    s3.put_object(Bucket=s3_bucket, Key="k", Body=b"through the proxy")
    assert s3.get_object(Bucket=s3_bucket, Key="k")["Body"].read() == b"through the proxy"


def test_a_failing_proxy_answers_503_slow_down_at_once(proxy, s3_bucket):
    proxy.mode = "fail"
    started = time.monotonic()
    answer = requests.get(f"{proxy.url}/{s3_bucket}/k", timeout=5)
    assert answer.status_code == 503 and b"<Code>SlowDown</Code>" in answer.content
    assert time.monotonic() - started < 1


def test_a_hanging_proxy_answers_nothing_until_its_mode_changes(proxy, s3_bucket):
    proxy.mode = "hang"
    with pytest.raises(requests.ReadTimeout):
        requests.get(f"{proxy.url}/{s3_bucket}/k", timeout=0.5)
    outcome = []

    def held() -> None:
        try:
            requests.get(f"{proxy.url}/{s3_bucket}/k", timeout=10)
            outcome.append("answered")
        except requests.ConnectionError:
            outcome.append("closed")

    waiting = threading.Thread(target=held)
    waiting.start()
    time.sleep(0.3)
    assert outcome == [], "still held"
    proxy.mode = "pass"
    waiting.join(5)
    assert outcome == ["closed"], "a hung request is let go without an answer"


def test_an_unknown_mode_is_refused(proxy):
    with pytest.raises(ValueError, match="unknown proxy mode 'slow'"):
        proxy.mode = "slow"
