"""revertsg-2's work: answer a click, revert a denied change, and keep time for approvals
for a while.

Click: verify the raw body, parse the one click, check the approver, make its conditional
write (on each member of a group message), then what the click calls for: an approval for a
while's schedules set or deleted (`temporary`), the message edited, the revert started
(Deny, Revert now), the history posted in the thread (`thread`). Every refusal is told to
the clicker privately in one place. The whole answer keeps to one `Deadline`: Slack and
Scheduler calls on this path never retry or sleep, and what does not fit is handed to an
asynchronous invocation (`ScheduleJob`, `ShowJob`, `ThreadJob`, `TellJob`).

Revert: act only on a change that is DENIED (a duplicate or late invocation finds it
REVERTED and does nothing), undo it (`undo.undo`: plan, apply, outcome), record REVERTED
or REVERT_FAILED, edit the message, post the thread.

On time (`on_time`): an approval for a while's expiry and reminder (`expiry_flow`), and an
undecided change's reminders and fail-closed deny (`undecided_flow`). A firing for a
step no longer due (decided, extended, kept, reverted, fired already) does nothing.

Before any write a click is checked (`click_checks`): it must come from the change's
workspace, channel and message, from one of its route's approvers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.config import Config

from sgrevert import aws, blocks, metrics, security_hub, temporary
from sgrevert.click_checks import approvers_of, check_decider, check_place
from sgrevert.deadline import ANSWER_BUDGET_SECONDS, COLD_START_ALLOWANCE_SECONDS, Deadline
from sgrevert.durations import DEFAULT_TEMPORARY_APPROVALS
from sgrevert.errors import (
    AlreadyApproved,
    AlreadyDecided,
    NotDecidable,
    NotTemporary,
    SelfApproval,
    SgrevertError,
    UnknownChange,
)
from sgrevert.expiry_flow import INVOKE_RESERVE_SECONDS, ExpirySteps
from sgrevert.expiry_schedule import ScheduleFailed, SchedulerClient
from sgrevert.interaction import (
    REFUSALS,
    Action,
    BadInteraction,
    Click,
    explain,
    parse_click,
)
from sgrevert.model import ChangeRecord, State
from sgrevert.replies import SlackReplies
from sgrevert.revert import RevokeTally
from sgrevert.reverter import SpokeReverter
from sgrevert.review_rules import ReviewRules
from sgrevert.roles import RoleChain
from sgrevert.selfinvoke import (
    MARKER,
    ArmJob,
    DenyUndecidedJob,
    ExpireJob,
    FindingsJob,
    InvokeFailed,
    Job,
    NudgeJob,
    RemindJob,
    RevertJob,
    ScheduleJob,
    SelfInvoker,
    ShowJob,
    TellJob,
    ThreadJob,
)
from sgrevert.settings import RespondSettings, SlackSettings
from sgrevert.slack import SlackCredentials, click_client, load_credentials, web_client
from sgrevert.slack_request import HttpReply, HttpRequest, Unverified, verified_body
from sgrevert.store import BATCH_PREFIX, ChangeStore, message_about
from sgrevert.temporary import Expiries, NoTimeLeft
from sgrevert.thread import post_history
from sgrevert.undecided_flow import UndecidedSteps
from sgrevert.undo import undo
from sgrevert.usergroups import UserGroups, UserGroupUnreadable

if TYPE_CHECKING:
    from mypy_boto3_sts.client import STSClient

logger = Logger(service="sgrevert-respond", child=True)

# Slack waits 3 seconds for the answer to a click: the calls on that path give up early
# (an asynchronous Invoke answers at once or not at all), and every call after the write
# leaves INVOKE_RESERVE_SECONDS of the deadline, so what did not fit can still be handed
# over. The revert has a minute.
INVOKE_CONFIG = Config(
    connect_timeout=0.5, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 2}
)
# A Scheduler call on the answer: one attempt, given up within `temporary.CLICK_CALL_SECONDS`.
SCHEDULER_CLICK_CONFIG = Config(
    connect_timeout=0.3, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1}
)
CLICK_SLACK_TIMEOUT_SECONDS = 2
REVERT_SLACK_TIMEOUT_SECONDS = 10

# Builds the Slack replies: with the click's deadline, or None for the asynchronous work.
SlackFactory = Callable[[SlackCredentials, Deadline | None], SlackReplies]
# What a click can run into: told to the clicker, nothing changed.
# What a member of a group message can run into while the others are decided.
MEMBER_REFUSALS = (
    AlreadyDecided,
    NotDecidable,
    NotTemporary,
    UnknownChange,
    SelfApproval,
    AlreadyApproved,
)
# Approving clicks: one that completes an approval by several may set an expiry.
_APPROVING = frozenset({Action.APPROVE, *temporary.SETTING_ACTIONS})


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
        expiries: Expiries | None = None,
        durations: Sequence[timedelta] = DEFAULT_TEMPORARY_APPROVALS,
        review: ReviewRules | None = None,
        groups: UserGroups | None = None,
        team_id: str | None = None,
        findings: security_hub.Findings = security_hub.NO_FINDINGS,
    ) -> None:
        """`expiries`: the schedules of approvals for a while (None: no scheduler role is
        configured, so Allow for… is refused); `durations`: the ones it offers; `review`:
        the policy's reminders, fail-closed, self-approval and two-person rules; `groups`:
        the approver user groups' members (None: looked up with the bot token);
        `team_id`: the only workspace whose clicks count (None: any)."""
        self._store = store
        self._approvers = frozenset(approvers)
        self._credentials = credentials
        self._slack = slack
        self._invoker = invoker
        self._reverter = reverter
        self._clock = clock
        self._expiries = expiries
        self._durations = tuple(durations)
        self._review = review or ReviewRules()
        self._team_id = team_id
        self._findings = findings
        self._groups = groups or UserGroups(_no_slack_client)
        self._timed = ExpirySteps(
            store=store,
            expiries=expiries,
            clock=clock,
            replies=lambda: self._slack(self._credentials(), None),
            reverter=reverter,
            records=self._records,
            members=self._members,
            finish=lambda record, succeeded, outcome, slack: self._finish(
                record, succeeded, outcome, slack, show=False
            ),
            present=self._present,
            thread=lambda about, records, slack, now: self._thread(about, records, slack, now=now),
        )
        self._undecided = UndecidedSteps(
            store=store,
            rules=self._review,
            expiries=expiries,
            clock=clock,
            records=self._records,
            post_thread=self._thread_now,
            revert=self.revert,
        )

    @classmethod
    def from_settings(
        cls,
        settings: RespondSettings,
        *,
        sts: STSClient | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> Responder:
        """Wire the real adapters; `sts` replaces the STS client the role chain starts from,
        `clock` the time the responder keeps (tests and the sandbox move it by hand)."""
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

        @cache
        def scheduler(on_click: bool) -> SchedulerClient:
            config = aws.RETRY_CONFIG.merge(SCHEDULER_CLICK_CONFIG) if on_click else None
            client: SchedulerClient = base.client("scheduler", config=config or aws.RETRY_CONFIG)
            return client

        role = settings.scheduler_role_arn
        group = settings.expiry_schedule_group
        durations = settings.policy.temporary_approvals
        return cls(
            store=ChangeStore(aws.table(settings.table_name, base)),
            approvers=settings.approvers,
            credentials=lambda: load_credentials(settings.slack.secret_arn),
            slack=lambda credentials, deadline: _replies(
                settings.slack, credentials, deadline, durations
            ),
            invoker=invoker,
            reverter=reverter,
            clock=clock,
            expiries=Expiries(scheduler, group, role, clock=clock) if role else None,
            durations=durations,
            review=settings.policy.review,
            groups=UserGroups(lambda: _group_client(settings.slack, settings.slack.secret_arn)),
            team_id=settings.team_id,
            findings=security_hub.from_settings(
                settings.security_hub, settings.security_hub_at_or_above, base
            ),
        )

    @classmethod
    def from_env(
        cls, *, sts: STSClient | None = None, clock: Callable[[], datetime] = _utcnow
    ) -> Responder:
        return cls.from_settings(RespondSettings.from_env(), sts=sts, clock=clock)

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
            return HttpReply(400, "not a click on an sgrevert message")

        log = {
            "event_id": click.event_id,
            "user": click.user_id,
            "action": click.action.value,
            "decision": click.decision,
        }
        slack = self._slack(credentials, deadline)
        now = self._clock()
        try:
            # A group's members share their message and route: the first stands for all.
            members = self._members(click.event_id)
            posted = self._store.require(members[0] if members else click.event_id)
            check_place(click, posted, self._team_id)
            check_decider(click.user_id, approvers_of(posted, self._approvers), self._groups)
            write = temporary.write_for(
                click,
                self._store,
                now,
                offered=self._durations,
                scheduled=self._expiries is not None,
                rules=self._review,
                read=posted,
            )
            if click.event_id.startswith(BATCH_PREFIX):
                decided = self._click_batch(click, members, write, function_arn, slack)
            else:
                decided = [write(click.event_id)]
        except REFUSALS as refusal:
            logger.info("click refused", extra={**log, "reason": str(refusal)})
            text = explain(refusal, click.deadline)
            self._tell(slack, TellJob(click.channel_id, click.user_id, text), function_arn)
            return HttpReply(200)
        if decided:
            logger.info("change decided", extra={**log, "changes": len(decided)})
            self._after_click(
                click, decided, now=now, function_arn=function_arn, slack=slack, answer=deadline
            )
            metrics.decided(click.action.value, decided)
            if not self._findings.decided(decided, deadline):
                self._hand_over(FindingsJob(click.event_id), function_arn)
        return HttpReply(200)

    def _click_batch(
        self,
        click: Click,
        members: list[str],
        write: temporary.Write,
        function_arn: str | None,
        slack: SlackReplies,
    ) -> list[ChangeRecord]:
        """The click's write on every member of a group message, each a conditional write of
        its own: a member decided already keeps its decision and the clicker is told."""
        batch_id = click.event_id.removeprefix(BATCH_PREFIX)
        decided: list[ChangeRecord] = []
        refused: list[SgrevertError] = []
        for event_id in members:
            try:
                decided.append(write(event_id))
            except MEMBER_REFUSALS as refusal:
                refused.append(refusal)
        log = {"batch": batch_id, "user": click.user_id, "action": click.action.value}
        logger.info("batch decided", extra={**log, "decided": len(decided), "kept": len(refused)})
        if not decided:
            kinds = {type(r) for r in refused}
            if len(kinds) == 1 and not isinstance(refused[0], AlreadyDecided | UnknownChange):
                # One reason for all: extended, kept or reverted meanwhile; the clicker's own
                # changes; approved by them already.
                text = explain(refused[0], click.deadline)
            else:
                text = "Every change in this group was already decided; nothing was changed."
            self._tell(slack, TellJob(click.channel_id, click.user_id, text), function_arn)
        elif refused:
            text = (
                f"{len(refused)} of {len(members)} changes in this group were already decided "
                "and keep their decision; the rest are now decided as you chose."
            )
            self._tell(slack, TellJob(click.channel_id, click.user_id, text), function_arn)
        return decided

    def _after_click(
        self,
        click: Click,
        decided: list[ChangeRecord],
        *,
        now: datetime,
        function_arn: str | None,
        slack: SlackReplies,
        answer: Deadline,
    ) -> None:
        """What the click's writes call for, in order of what matters most: the expiry of an
        approval for a while (what reverts it on time), the message, the revert, the thread.
        Each call leaves time to hand what does not fit to an asynchronous invocation."""
        about = click.event_id
        # An approval by several becomes one for a while with its last approval, whatever it is.
        plan = temporary.plan_after(decided, now) if click.action in _APPROVING else None
        unscheduled: str | None = None
        try:
            if plan is not None:
                self._timed.set(about, plan, function_arn, answer)
            elif click.action is Action.KEEP:
                self._timed.delete(about, answer)
        except NoTimeLeft as error:
            if self._hand_over(ScheduleJob(about), function_arn):
                return  # that invocation edits the message and posts the thread after
            unscheduled = f"{error}, and it could not be handed over"
        except ScheduleFailed as error:
            unscheduled = error.reason
        if unscheduled is not None and plan is not None:
            self._timed.unscheduled(about, plan, unscheduled, None)
        records = decided if not about.startswith(BATCH_PREFIX) else self._records(about)
        denied = any(r.state is State.DENIED for r in decided)
        reserve = INVOKE_RESERVE_SECONDS
        shown = self._show(
            about, records, slack, channel=click.channel_id, ts=click.message_ts, reserve=reserve
        )
        if denied:
            # The revert edits the message and posts the thread when it ends.
            self._start_revert(about, decided, function_arn, slack)
        elif not shown:
            self._hand_over(ShowJob(about), function_arn)  # which posts the thread too
        if unscheduled is not None and plan is not None:
            text = temporary.unscheduled_words(plan.deadline, unscheduled)
            self._tell(slack, TellJob(click.channel_id, click.user_id, text), function_arn)
        if click.action is Action.REVERT_NOW:
            try:
                self._timed.delete(about, answer)
            except NoTimeLeft:
                self._hand_over(ScheduleJob(about, show=False), function_arn)
        if shown and not denied and not self._thread(about, records, slack, reserve=reserve):
            self._hand_over(ThreadJob(about), function_arn)

    def _tell(self, slack: SlackReplies, job: TellJob, function_arn: str | None) -> None:
        """Tell the clicker privately now, or hand it over if it does not fit."""
        if not slack.tell(job.channel, job.user, job.text):
            self._hand_over(job, function_arn)

    def _hand_over(self, job: Job, function_arn: str | None) -> bool:
        """What did not fit in the answer (an edit, a private reply, the schedules): an
        asynchronous invocation of this function does it, with clients that retry."""
        about = job.user if isinstance(job, TellJob) else job.event_id
        log = {"job": job.to_event()[MARKER], "about": about}
        try:
            self._invoker().start(function_arn, job)
        except InvokeFailed as error:
            # The decision stands; the message shows it at the next state change, and a
            # click on its stale buttons is told who decided.
            logger.error("could not hand over", extra={**log, "error": str(error)})
            return False
        logger.info("handed over", extra=log)
        return True

    def _start_revert(
        self,
        about: str,
        decided: list[ChangeRecord],
        function_arn: str | None,
        slack: SlackReplies,
    ) -> None:
        denied = [r for r in decided if r.state is State.DENIED]
        try:
            self._invoker().start(function_arn, RevertJob(about, denied[0].decided_by or ""))
        except InvokeFailed as error:
            # Left DENIED, the message would say "reverting…" forever; fail it so Deny retries.
            logger.error("could not start the revert", extra={"about": about, "error": str(error)})
            reason = f"the revert could not be started ({error}); click Deny again to retry"
            for record in denied:
                self._finish(record, False, reason, slack, show=False)
            self._show(about, self._records(about), slack)

    # -- the asynchronous rest of a click ------------------------------------------------------

    def show(self, job: ShowJob) -> dict[str, Any]:
        """Edit a change's (or a group's) message to show its current state, and post its
        thread, with a client that waits out rate limits: what a click's answer had no time
        left for."""
        slack = self._slack(self._credentials(), None)
        records = self._records(job.event_id)
        shown = self._show(job.event_id, records, slack)
        if shown:
            self._thread(job.event_id, records, slack)
        log = {"about": job.event_id, "shown": shown}
        (logger.info if shown else logger.warning)("handed-over message edit", extra=log)
        return {"event_id": job.event_id, "shown": shown}

    def tell(self, job: TellJob) -> dict[str, Any]:
        """A private reply the click's answer had no time left for."""
        told = self._slack(self._credentials(), None).tell(job.channel, job.user, job.text)
        return {"user": job.user, "told": told}

    # -- on time -----------------------------------------------------------------------------

    def on_time(
        self,
        job: ExpireJob
        | RemindJob
        | ThreadJob
        | ScheduleJob
        | ArmJob
        | NudgeJob
        | DenyUndecidedJob
        | FindingsJob,
        function_arn: str | None = None,
    ) -> dict[str, Any]:
        """A step due at a time (an expiry, a reminder, an undecided change's reminder or
        fail-closed deny), set up after a post (`ArmJob`), or handed over by a click (the
        thread, the schedules, the Security Hub findings); `function_arn`: this function,
        which schedules invoke."""
        if isinstance(job, ArmJob | NudgeJob | DenyUndecidedJob):
            return self._undecided.run(job, function_arn)
        if isinstance(job, FindingsJob):
            done = self._findings.decided(self._records(job.event_id))
            return {"event_id": job.event_id, "findings": done}
        if isinstance(job, ExpireJob):
            return self._timed.expire(job)
        if isinstance(job, RemindJob):
            return self._timed.remind(job)
        if isinstance(job, ScheduleJob):
            return self._timed.schedule(job, function_arn)
        slack = self._slack(self._credentials(), None)
        posted = self._thread(job.event_id, self._records(job.event_id), slack)
        return {"event_id": job.event_id, "threaded": posted}

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
        if finished is not None:  # the delivery that recorded it posts the thread
            self._thread(message_about(finished), self._records(message_about(finished)), slack)
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
        if reverted or failed:
            self._present(job.event_id, slack)
        else:
            self._show(job.event_id, self._records(job.event_id), slack)
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
        metrics.revert_finished(finished)
        self._findings.decided([finished])
        if show:
            # a member shows in its group's message
            self._show(message_about(finished), self._records(message_about(finished)), slack)
        return finished

    # -- the message and its thread ------------------------------------------------------------

    def _records(self, about: str) -> list[ChangeRecord]:
        """The change, or the members of the group message `about`; [] when not on record."""
        try:
            if about.startswith(BATCH_PREFIX):
                return self._store.batch_records(about.removeprefix(BATCH_PREFIX))
            return [self._store.require(about)]
        except UnknownChange:
            return []

    def _members(self, about: str) -> list[str]:
        """The change, or the members of the group message `about`; [] for no such group."""
        if not about.startswith(BATCH_PREFIX):
            return [about]
        try:
            return self._store.batch_members(about.removeprefix(BATCH_PREFIX))
        except UnknownChange:
            return []

    def _show(
        self,
        about: str,
        records: list[ChangeRecord],
        slack: SlackReplies,
        *,
        channel: str | None = None,
        ts: str | None = None,
        reserve: float = 0.0,
    ) -> bool:
        """Edit the message of a change or a group to show `records` as they are, then its
        copies for information (best effort: the message is what decides)."""
        if not records:
            return False
        first = records[0]
        if not about.startswith(BATCH_PREFIX):
            shown = slack.update(first, channel, ts, reserve=reserve)
            message = blocks.message(first, durations=slack.durations) if first.copies else None
        else:
            channel = first.slack_channel or channel
            ts = first.slack_ts or ts
            if not channel or not ts:
                return False
            batch_id = about.removeprefix(BATCH_PREFIX)
            message = blocks.batch_message(batch_id, records, durations=slack.durations)
            shown = slack.show(message, channel, ts, batch_id, reserve=reserve)
        if message is not None and first.slack_channel:
            copy = blocks.for_information(message, first.slack_channel)
            for posted in first.copies:
                slack.show(copy, posted.channel, posted.ts, about, reserve=reserve)
        return shown

    def _thread(
        self,
        about: str,
        records: list[ChangeRecord],
        slack: SlackReplies,
        *,
        now: datetime | None = None,
        reserve: float = 0.0,
    ) -> bool:
        return post_history(self._store, slack, about, records, now=now, reserve=reserve)

    def _thread_now(self, about: str) -> bool:
        """Post the steps of `about` not yet in its thread, with a client that retries."""
        slack = self._slack(self._credentials(), None)
        return self._thread(about, self._records(about), slack, now=self._clock())

    def _present(self, about: str, slack: SlackReplies) -> None:
        """After an asynchronous step: the message as it now is, and its thread."""
        records = self._records(about)
        self._show(about, records, slack)
        self._thread(about, records, slack)


def _counts(tally: RevokeTally) -> dict[str, int]:
    return {
        "revoked": tally.revoked,
        "restored": tally.restored,
        "already_gone": tally.already_gone,
        "already_restored": tally.already_restored,
        "left_alone": len(tally.left_alone),
    }


def _no_slack_client() -> Any:
    """Without Slack settings no user group can be looked up: each is unreadable."""
    raise UserGroupUnreadable("", "no Slack client is configured to read it", "no_client")


def _group_client(settings: SlackSettings, secret_arn: str) -> Any:
    """User groups are looked up on a click's answer: one attempt, a short timeout."""
    client = click_client(settings, load_credentials(secret_arn))
    client.timeout = CLICK_SLACK_TIMEOUT_SECONDS
    return client


def _replies(
    settings: SlackSettings,
    credentials: SlackCredentials,
    deadline: Deadline | None,
    durations: Sequence[timedelta],
) -> SlackReplies:
    if deadline is None:
        client = web_client(settings, credentials, timeout=REVERT_SLACK_TIMEOUT_SECONDS)
        return SlackReplies(client, durations=durations)
    client = click_client(settings, credentials)
    client.timeout = CLICK_SLACK_TIMEOUT_SECONDS
    return SlackReplies(client, deadline, durations=durations)
