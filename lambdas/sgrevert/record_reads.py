"""What a change needs read before the detector judges and records it.

- A modification: each modified rule's earlier value, from its group's recorded history
  (and the run's own changes, which the store's index may not show yet).
- A prefix-list edit: its context (the list and the rules that reference it), since its
  level, and so the policy's ignore, hold and auto-revert, depends on those rules. The
  context is kept on the record with why the edit has its level.

Best effort: a read that fails is logged and the change is recorded all the same (a
modification without earlier values stays decidable; an edit without its references is
rated at worst).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert.list_risk import rating_note
from sgrevert.model import MODIFY_RULES_EVENT, PREFIX_LIST_EVENT, Change, Rule
from sgrevert.prior import find_prior

if TYPE_CHECKING:
    from sgrevert.context import ChangeContext
    from sgrevert.policy import Verdict
    from sgrevert.store import ChangeStore

logger = Logger(service="sgrevert-detect", child=True)


class ContextSource(Protocol):
    def read(
        self, changes: Sequence[Change], now: datetime, budget_seconds: float
    ) -> dict[str, ChangeContext]: ...


def with_prior(change: Change, store: ChangeStore, batch: Sequence[Change]) -> Change:
    """A modification with each modified rule's earlier value found in its group's history
    and in the `batch` it came in. Any other change as it is. A history that cannot be read
    leaves the prior empty, so the modification stays decidable."""
    if change.event_name != MODIFY_RULES_EVENT:
        return change
    try:
        history = store.group_history(
            change.account, change.region, change.group_id, before=change.event_time
        )
    except (ClientError, BotoCoreError) as error:
        logger.warning(
            "group history not read: the modification's earlier values are not known",
            extra={"event_id": change.event_id, "error": str(error)},
        )
        history = []
    same_group = [
        c
        for c in batch
        if (c.account, c.region, c.group_id) == (change.account, change.region, change.group_id)
    ]
    return replace(change, prior=find_prior(change, history, recent=same_group))


def list_contexts(
    source: ContextSource, changes: Sequence[Change], now: datetime, budget_seconds: float
) -> dict[str, ChangeContext]:
    """The context of the prefix-list edits among `changes`, by event id."""
    edits = [c for c in changes if c.event_name == PREFIX_LIST_EVENT]
    if not edits or budget_seconds <= 0:
        return {}
    return source.read(edits, now, budget_seconds)


def keep_list_context(
    store: ChangeStore,
    change: Change,
    context: ChangeContext,
    verdict: Verdict,
    referencing: list[Rule] | None,
) -> None:
    """Store the context read at record time, with why the edit has its level."""
    note = verdict.note
    if note is None and referencing is not None:
        note = rating_note(change, referencing, verdict.assessment.reason)
    try:
        store.set_context(change.event_id, context, risk=verdict.risk.label, note=note)
    except (ClientError, BotoCoreError) as error:
        logger.warning("context not kept", extra={"event_id": change.event_id, "error": str(error)})
