"""revertsg-2: Slack clicks from API Gateway, and its own asynchronous revert events. Thin.

These events reach this handler:
- an API Gateway REST proxy event (a Slack button click), answered with a proxy response:
  200, 400 (not a click on an sgrevert message) or 401 (no valid Slack signature);
- `{"sgrevert": "revert", "event_id": ..., "denied_by": ...}`, which the click path sends
  to this same function with an asynchronous Invoke; it does the revert;
- `{"sgrevert": "show", "event_id": ...}` and `{"sgrevert": "tell", ...}`, sent the same
  way when the click's message edit or private reply did not fit in Slack's 3 seconds, and
  `{"sgrevert": "thread" | "schedule", "event_id": ...}` when its thread replies or an
  approval for a while's schedules did not;
- `{"sgrevert": "expire" | "remind", "event_id": ..., "deadline": ...}`, sent by the
  EventBridge Scheduler schedule of an approval for a while (or the detector's sweep) when
  it ends or its approver is to be reminded.

Each invocation's metrics are written when it ends (`sgrevert.metrics`). The Responder
(settings, clients) is built on first use and kept for the life of the
process. `reset()` forgets it, or installs one built by the caller, for processes that
change the environment or the wiring between calls (tests, the sandbox).
"""

from __future__ import annotations

import threading
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from sgrevert import metrics
from sgrevert.deadline import answer_deadline
from sgrevert.responder import Responder
from sgrevert.selfinvoke import (
    BadRevertEvent,
    RevertJob,
    ShowJob,
    TellJob,
    is_own_event,
    job_from_event,
)
from sgrevert.slack_request import apigw_response, from_apigw_event

logger = Logger(service="sgrevert-respond")

_lock = threading.Lock()
_responder: Responder | None = None


def responder() -> Responder:
    """The process's Responder; settings are read and validated on first use."""
    global _responder  # noqa: PLW0603 -- one per cold start, by design
    with _lock:
        if _responder is None:
            _responder = Responder.from_env()
        return _responder


def reset(replacement: Responder | None = None) -> None:
    """Forget the Responder (the next call reads the environment again), or install one."""
    global _responder  # noqa: PLW0603
    with _lock:
        _responder = replacement


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if is_own_event(event):
        try:
            job = job_from_event(event)
        except BadRevertEvent as error:
            # Retrying cannot fix a malformed event: log it and let it go.
            logger.error("ignored a malformed event", extra={"error": str(error)})
            return {"reverted": False, "error": str(error)}
        if isinstance(job, ShowJob):
            return responder().show(job)
        if isinstance(job, TellJob):
            return responder().tell(job)
        if isinstance(job, RevertJob):
            return responder().revert(job)
        # A schedule set on the way invokes this same function.
        return responder().on_time(job, getattr(context, "invoked_function_arn", None))
    event = event if isinstance(event, dict) else {}
    deadline = answer_deadline(event)  # first, so the time spent below counts
    function_arn = getattr(context, "invoked_function_arn", None)
    reply = responder().click(from_apigw_event(event), function_arn, deadline)
    return apigw_response(reply)
