"""revertsg-2's work: answer a click, then (asynchronously) revert a denied change.

Click: verify the raw body, parse the one approve/deny action, check the approver,
record the decision with a conditional write, edit the message, and on Deny start the
asynchronous revert; every refusal is told to the clicker privately in one place. The
whole answer keeps to one `Deadline`: Slack calls on this path never retry or sleep,
and an edit that does not fit is handed to an asynchronous invocation (`ShowJob`).

Revert: act only on a change that is DENIED (a duplicate or late invocation finds it
REVERTED and does nothing), undo it (`undo.undo`: plan, apply, outcome), record REVERTED
or REVERT_FAILED, edit the message.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.config import Config

from sgrevert import aws, blocks
from sgrevert.deadline import ANSWER_BUDGET_SECONDS, COLD_START_ALLOWANCE_SECONDS, Deadline
from sgrevert.errors import AlreadyDecided, NotDecidable, SgrevertError, UnknownChange
from sgrevert.interaction import (
    REFUSALS,
    BadInteraction,
    Click,
    check_approver,
    explain,
    parse_click,
)
from sgrevert.model import ChangeRecord, State
from sgrevert.replies import SlackReplies
from sgrevert.revert import RevokeTally
from sgrevert.reverter import SpokeReverter
from sgrevert.roles import RoleChain
from sgrevert.selfinvoke import MARKER, InvokeFailed, Job, RevertJob, SelfInvoker, ShowJob, TellJob
from sgrevert.settings import RespondSettings, SlackSettings
from sgrevert.slack import SlackCredentials, click_client, load_credentials, web_client
from sgrevert.slack_request import HttpReply, HttpRequest, Unverified, verified_body
from sgrevert.store import BATCH_PREFIX, ChangeStore
from sgrevert.undo import undo

if TYPE_CHECKING:
    from mypy_boto3_sts.client import STSClient

logger = Logger(service="sgrevert-respond", child=True)

# Slack waits 3 seconds for the answer to a click: the calls on that path give up early
# (an asynchronous Invoke answers at once or not at all), and the message edit before
# the Invoke leaves it INVOKE_RESERVE_SECONDS of the deadline. The revert has a minute.
INVOKE_CONFIG = Config(
    connect_timeout=0.5, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 2}
)
INVOKE_RESERVE_SECONDS = 1.0
CLICK_SLACK_TIMEOUT_SECONDS = 2
REVERT_SLACK_TIMEOUT_SECONDS = 10

# Builds the Slack replies: with the click's deadline, or None for the asynchronous work.
SlackFactory = Callable[[SlackCredentials, Deadline | None], SlackReplies]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Responder:
    def __init__(
        self,
        *,
        store: ChangeStore,
        approvers: Collection[str],
        credentials: Callable[[], SlackCredentials],
        slack: SlackFactory,
        invoker: Callable[[], SelfInvoker],
        reverter: Callable[[], SpokeReverter],
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._approvers = frozenset(approvers)
        self._credentials = credentials
        self._slack = slack
        self._invoker = invoker
        self._reverter = reverter
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: RespondSettings, *, sts: STSClient | None = None) -> Responder:
        """Wire the real adapters; `sts` replaces the STS client the role chain starts from."""
        base = aws.session()

        # Built on first use: a click that is refused or approved never needs them.
        @cache
        def invoker() -> SelfInvoker:
            return SelfInvoker(base.client("lambda", config=aws.RETRY_CONFIG.merge(INVOKE_CONFIG)))

        @cache
        def reverter() -> SpokeReverter:
            chain = RoleChain(
                sts or aws.client("sts", base), settings.hub_role_arn, settings.spoke_role_name
            )
            return SpokeReverter(chain, aws.client("organizations", base))

        return cls(
            store=ChangeStore(aws.table(settings.table_name, base)),
            approvers=settings.approvers,
            credentials=lambda: load_credentials(settings.slack.secret_arn),
            slack=lambda credentials, deadline: _replies(settings.slack, credentials, deadline),
            invoker=invoker,
            reverter=reverter,
        )

    @classmethod
    def from_env(cls, *, sts: STSClient | None = None) -> Responder:
        return cls.from_settings(RespondSettings.from_env(), sts=sts)

    # -- the click ---------------------------------------------------------------------------

    def click(
        self, request: HttpRequest, function_arn: str | None, deadline: Deadline | None = None
    ) -> HttpReply:
        """Answer a click by `deadline` (default: the budget less a cold start's allowance)."""
        if deadline is None:
            deadline = Deadline.in_seconds(ANSWER_BUDGET_SECONDS - COLD_START_ALLOWANCE_SECONDS)
        credentials = self._credentials()
        try:
            click = parse_click(verified_body(request, credentials.signing_secret))
        except Unverified as error:
            logger.warning("rejected an unverified request", extra={"reason": str(error)})
            return HttpReply(401, "invalid or missing Slack signature")
        except BadInteraction as error:
            logger.warning("rejected a malformed interaction", extra={"reason": str(error)})
            return HttpReply(400, "not an approve or deny click")

        log = {"event_id": click.event_id, "user": click.user_id, "decision": click.decision}
        slack = self._slack(credentials, deadline)
        try:
            check_approver(click.user_id, self._approvers)
            if click.event_id.startswith(BATCH_PREFIX):
                self._click_batch(click, function_arn, slack)
                return HttpReply(200)
            record = self._store.decide(
                click.event_id, click.decision, click.user_id, self._clock()
            )
        except REFUSALS as refusal:
            logger.info("click refused", extra={**log, "reason": str(refusal)})
            self._tell(
                slack, TellJob(click.channel_id, click.user_id, explain(refusal)), function_arn
            )
            return HttpReply(200)

        logger.info("change decided", extra=log)
        denied = record.state is State.DENIED
        reserve = INVOKE_RESERVE_SECONDS if denied else 0.0
        shown = slack.update(record, click.channel_id, click.message_ts, reserve=reserve)
        if denied:
            # The revert edits the message when it ends, so a missed edit needs no hand-over.
            self._start_revert(record, function_arn, slack)
        elif not shown:
            self._hand_over(ShowJob(record.event_id), function_arn)
        return HttpReply(200)

    def _tell(self, slack: SlackReplies, job: TellJob, function_arn: str | None) -> None:
        """Tell the clicker privately now, or hand it over if it does not fit."""
        if not slack.tell(job.channel, job.user, job.text):
            self._hand_over(job, function_arn)

    def _hand_over(self, job: Job, function_arn: str | None) -> None:
        """What did not fit in the answer (an edit, a private reply): an asynchronous
        invocation of this function does it, with a client that waits out rate limits."""
        about = job.user if isinstance(job, TellJob) else job.event_id
        log = {"job": job.to_event()[MARKER], "about": about}
        try:
            self._invoker().start(function_arn, job)
        except InvokeFailed as error:
            # The decision stands; the message shows it at the next state change, and a
            # click on its stale buttons is told who decided.
            logger.error("could not hand over", extra={**log, "error": str(error)})
        else:
            logger.info("handed over", extra=log)

    def _click_batch(self, click: Click, function_arn: str | None, slack: SlackReplies) -> None:
        """One decision for every member of a group message, each a conditional write of its
        own: a member decided already keeps its decision and the clicker is told."""
        batch_id = click.event_id.removeprefix(BATCH_PREFIX)
        members = self._store.batch_members(batch_id)
        now = self._clock()
        decided: list[ChangeRecord] = []
        refused: list[SgrevertError] = []
        for event_id in members:
            try:
                decided.append(self._store.decide(event_id, click.decision, click.user_id, now))
            except (AlreadyDecided, NotDecidable, UnknownChange) as refusal:
                refused.append(refusal)
        log = {"batch": batch_id, "user": click.user_id, "decision": click.decision}
        logger.info("batch decided", extra={**log, "decided": len(decided), "kept": len(refused)})
        if not decided:
            text = "Every change in this group was already decided; nothing was changed."
            self._tell(slack, TellJob(click.channel_id, click.user_id, text), function_arn)
            return
        if refused:
            text = (
                f"{len(refused)} of {len(members)} changes in this group were already decided "
                "and keep their decision; the rest are now decided as you chose."
            )
            self._tell(slack, TellJob(click.channel_id, click.user_id, text), function_arn)
        denied = any(r.state is State.DENIED for r in decided)
        reserve = INVOKE_RESERVE_SECONDS if denied else 0.0
        shown = self._show_batch(batch_id, slack, click.channel_id, click.message_ts, reserve)
        if not denied and not shown:
            self._hand_over(ShowJob(click.event_id), function_arn)
        if denied:
            job = RevertJob(f"{BATCH_PREFIX}{batch_id}", click.user_id)
            try:
                self._invoker().start(function_arn, job)
            except InvokeFailed as error:
                logger.error("could not start the revert", extra={**log, "error": str(error)})
                reason = f"the revert could not be started ({error}); click Deny again to retry"
                for record in decided:
                    if record.state is State.DENIED:
                        self._finish(record, False, reason, slack, show=False)
                self._show_batch(batch_id, slack, click.channel_id, click.message_ts)

    def _show_batch(
        self,
        batch_id: str,
        slack: SlackReplies,
        channel: str | None = None,
        ts: str | None = None,
        reserve: float = 0.0,
    ) -> bool:
        records = self._store.batch_records(batch_id)
        channel = records[0].slack_channel or channel
        ts = records[0].slack_ts or ts
        if not channel or not ts:
            return False
        message = blocks.batch_message(batch_id, records)
        return slack.show(message, channel, ts, batch_id, reserve=reserve)

    def _start_revert(
        self, record: ChangeRecord, function_arn: str | None, slack: SlackReplies
    ) -> None:
        try:
            self._invoker().start(function_arn, RevertJob(record.event_id, record.decided_by or ""))
        except InvokeFailed as error:
            # Left DENIED, the message would say "reverting…" forever; fail it so Deny retries.
            logger.error(
                "could not start the revert",
                extra={"event_id": record.event_id, "error": str(error)},
            )
            reason = f"the revert could not be started ({error}); click Deny again to retry"
            self._finish(record, False, reason, slack)

    # -- the handed-over message edit -------------------------------------------------------

    def show(self, job: ShowJob) -> dict[str, Any]:
        """Edit a change's (or a group's) message to show its current state, with a client
        that waits out rate limits: what a click's answer had no time left for."""
        slack = self._slack(self._credentials(), None)
        if job.event_id.startswith(BATCH_PREFIX):
            shown = self._show_batch(job.event_id.removeprefix(BATCH_PREFIX), slack)
        else:
            record = self._store.get(job.event_id)
            shown = record is not None and slack.update(record)
        log = {"about": job.event_id, "shown": shown}
        (logger.info if shown else logger.warning)("handed-over message edit", extra=log)
        return {"event_id": job.event_id, "shown": shown}

    def tell(self, job: TellJob) -> dict[str, Any]:
        """A private reply the click's answer had no time left for."""
        told = self._slack(self._credentials(), None).tell(job.channel, job.user, job.text)
        return {"user": job.user, "told": told}

    # -- the revert --------------------------------------------------------------------------

    def revert(self, job: RevertJob) -> dict[str, Any]:
        if job.event_id.startswith(BATCH_PREFIX):
            return self._revert_batch(job)
        log: dict[str, Any] = {"event_id": job.event_id, "denied_by": job.denied_by}
        record = self._store.get(job.event_id)
        if record is None or record.state is not State.DENIED:
            # A duplicate or late delivery: the first one already did (or is doing) the work.
            state = record.state.value if record else None
            logger.info("nothing to revert", extra={**log, "state": state})
            return {"event_id": job.event_id, "state": state, "reverted": False}
        done = undo(record, self._reverter(), self._store, job.denied_by)
        if not done.succeeded:
            logger.warning("revert failed", extra={**log, "reason": done.outcome})
        slack = self._slack(self._credentials(), None)
        finished = self._finish(record, done.succeeded, done.outcome, slack)
        logger.info(
            "revert finished", extra={**log, "outcome": done.outcome, **_counts(done.tally)}
        )
        return {
            "event_id": job.event_id,
            "state": finished.state.value if finished else None,
            "reverted": finished is not None and finished.state is State.REVERTED,
            "outcome": done.outcome,
            **_counts(done.tally),
        }

    def _revert_batch(self, job: RevertJob) -> dict[str, Any]:
        """Revert each DENIED member in turn, then edit the group message once."""
        batch_id = job.event_id.removeprefix(BATCH_PREFIX)
        slack = self._slack(self._credentials(), None)
        reverted = failed = 0
        for event_id in self._store.batch_members(batch_id):
            record = self._store.get(event_id)
            if record is None or record.state is not State.DENIED:
                continue
            done = undo(record, self._reverter(), self._store, job.denied_by)
            finished = self._finish(record, done.succeeded, done.outcome, slack, show=False)
            if finished is not None:
                reverted += finished.state is State.REVERTED
                failed += finished.state is State.REVERT_FAILED
        self._show_batch(batch_id, slack)
        logger.info(
            "batch revert finished",
            extra={"batch": batch_id, "reverted": reverted, "failed": failed},
        )
        return {"event_id": job.event_id, "reverted": reverted, "failed": failed}

    def _finish(
        self,
        record: ChangeRecord,
        succeeded: bool,
        outcome: str,
        slack: SlackReplies,
        *,
        show: bool = True,
    ) -> ChangeRecord | None:
        try:
            finished = self._store.finish_revert(record.event_id, succeeded, outcome, self._clock())
        except AlreadyDecided as lost:
            # A concurrent delivery recorded the outcome first; its message edit stands.
            logger.info(
                "revert already finished",
                extra={"event_id": record.event_id, "state": lost.record.state},
            )
            return None
        if not show:
            pass
        elif finished.batch:
            self._show_batch(finished.batch, slack)  # a member shows in its group's message
        else:
            slack.update(finished)
        return finished


def _counts(tally: RevokeTally) -> dict[str, int]:
    return {
        "revoked": tally.revoked,
        "restored": tally.restored,
        "already_gone": tally.already_gone,
        "already_restored": tally.already_restored,
        "left_alone": len(tally.left_alone),
    }


def _replies(
    settings: SlackSettings, credentials: SlackCredentials, deadline: Deadline | None
) -> SlackReplies:
    if deadline is None:
        return SlackReplies(web_client(settings, credentials, timeout=REVERT_SLACK_TIMEOUT_SECONDS))
    client = click_client(settings, credentials)
    client.timeout = CLICK_SLACK_TIMEOUT_SECONDS
    return SlackReplies(client, deadline)
