"""The asynchronous revert event: its shape, and telling it apart from API Gateway's."""

from __future__ import annotations

import pytest

from sgrevert.selfinvoke import BadRevertEvent, RevertJob, is_revert_event


def test_given_a_revert_job_when_sent_as_an_event_then_it_round_trips_and_is_recognised() -> None:
    job = RevertJob("ev-1", "U0ALICE")
    event = job.to_event()
    assert event == {"sgrevert": "revert", "event_id": "ev-1", "denied_by": "U0ALICE"}
    assert is_revert_event(event)
    assert RevertJob.from_event(event) == job
    assert not is_revert_event({"httpMethod": "POST", "body": "sgrevert=revert"})
    assert not is_revert_event(["sgrevert"])
    with pytest.raises(BadRevertEvent):
        RevertJob.from_event({"sgrevert": "revert", "event_id": 7, "denied_by": "U0ALICE"})
