"""LakeQuery against botocore's Stubber: polling, paging, failure and the deadline.

The clock and sleep are injected, so the backoff is checked without waiting.
"""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from sgrevert.errors import LakeQueryError
from sgrevert.lake import LakeQuery


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def cloudtrail() -> object:
    return boto3.client(
        "cloudtrail", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


QID = "11111111-2222-3333-4444-555555555555"


def test_it_polls_with_backoff_then_reads_every_page(cloudtrail: object) -> None:
    time = FakeTime()
    with Stubber(cloudtrail) as stub:  # type: ignore[arg-type]
        stub.add_response("start_query", {"QueryId": QID}, {"QueryStatement": "SELECT 1"})
        for status in ("QUEUED", "RUNNING", "FINISHED"):
            stub.add_response("describe_query", {"QueryStatus": status}, {"QueryId": QID})
        stub.add_response(
            "get_query_results",
            {
                "QueryStatus": "FINISHED",
                "QueryResultRows": [[{"a": "1"}, {"b": "x"}]],
                "NextToken": "token-2",
            },
            {"QueryId": QID},
        )
        stub.add_response(
            "get_query_results",
            {"QueryStatus": "FINISHED", "QueryResultRows": [[{"a": "2"}, {"b": "y"}]]},
            {"QueryId": QID, "NextToken": "token-2"},
        )
        lake = LakeQuery(cloudtrail, clock=time.clock, sleep=time.sleep, first_poll=0.25)
        rows = list(lake.rows("SELECT 1", timeout_seconds=60))
        stub.assert_no_pending_responses()
    assert rows == [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    assert time.sleeps == [0.25, 0.5]


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "TIMED_OUT"])
def test_a_query_that_ends_badly_fails_the_run_with_the_reason(
    cloudtrail: object, status: str
) -> None:
    with Stubber(cloudtrail) as stub:  # type: ignore[arg-type]
        stub.add_response("start_query", {"QueryId": QID})
        stub.add_response("describe_query", {"QueryStatus": status, "ErrorMessage": "boom"})
        lake = LakeQuery(cloudtrail, sleep=lambda _: None)
        with pytest.raises(LakeQueryError, match=f"{status}: boom"):
            list(lake.rows("SELECT 1", timeout_seconds=60))


def test_a_query_still_running_at_the_deadline_is_cancelled(cloudtrail: object) -> None:
    time = FakeTime()
    with Stubber(cloudtrail) as stub:  # type: ignore[arg-type]
        stub.add_response("start_query", {"QueryId": QID})
        for _ in range(4):
            stub.add_response("describe_query", {"QueryStatus": "RUNNING"})
        stub.add_response(
            "cancel_query", {"QueryId": QID, "QueryStatus": "CANCELLED"}, {"QueryId": QID}
        )
        lake = LakeQuery(
            cloudtrail, clock=time.clock, sleep=time.sleep, first_poll=1.0, max_poll=4.0
        )
        with pytest.raises(LakeQueryError, match="deadline; cancelled"):
            list(lake.rows("SELECT 1", timeout_seconds=10))
        stub.assert_no_pending_responses()
    assert time.sleeps == [1.0, 2.0, 4.0]
