"""Posted changes as Security Hub findings, and their decisions as the findings' workflow.

Opt-in (`SECURITY_HUB`): each posted change at or above `SECURITY_HUB_AT_OR_ABOVE` is
imported (`BatchImportFindings`) into the security account's Security Hub, in the
function's region, and each decision sets its finding's workflow status and note
(`BatchUpdateFindings`); see `sgrevert.finding` for the finding itself.

Best effort: Security Hub never blocks a post or a decision. A call that fails, and each
finding it reports as failed (`FailedFindings` of an import, `UnprocessedFindings` of an
update), is logged with the finding's id and counted (`SecurityHubFailures`). An update
whose finding is not there yet (its import failed, or a policy's revert finished before the
post) imports it first, off the click's path. On the click's path calls give up early and
are made only while they fit before the answer's deadline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any, Protocol

import boto3
from aws_lambda_powertools import Logger
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from sgrevert import aws, metrics
from sgrevert.deadline import Deadline
from sgrevert.finding import (
    Hub,
    WorkflowUpdate,
    eligible,
    finding,
    finding_id,
    rated_at_or_above,
    workflow,
)
from sgrevert.model import ChangeRecord
from sgrevert.risk import Risk

logger = Logger(child=True)  # the service of the function it runs in

BATCH_LIMIT = 100  # findings per BatchImportFindings / BatchUpdateFindings request
NOT_FOUND = "FindingNotFound"
# A call on the click's path: one attempt, given up within CLICK_CALL_SECONDS.
CLICK_CONFIG = Config(
    connect_timeout=0.3, read_timeout=0.7, retries={"mode": "standard", "total_max_attempts": 1}
)
CLICK_CALL_SECONDS = 1.0
# This account, once per process (it may be on a click's path): one short attempt; a
# failure is tried again by the next call.
IDENTITY_CONFIG = Config(
    connect_timeout=0.3, read_timeout=0.5, retries={"mode": "standard", "total_max_attempts": 1}
)


class SecurityHubClient(Protocol):
    """The two calls of boto3's `securityhub` client used here."""

    def batch_import_findings(self, **kwargs: Any) -> Any: ...

    def batch_update_findings(self, **kwargs: Any) -> Any: ...


class Findings(Protocol):
    def posted(self, records: Iterable[ChangeRecord]) -> None: ...

    def decided(self, records: Iterable[ChangeRecord], deadline: Deadline | None = None) -> bool:
        """`deadline`: a click's answer, which the calls must not delay. False when a call
        on it did not fit or failed: hand the update to a path that retries."""
        ...


class NoFindings:
    """Security Hub is off (the default): nothing is sent."""

    def posted(self, records: Iterable[ChangeRecord]) -> None:
        return None

    def decided(self, records: Iterable[ChangeRecord], deadline: Deadline | None = None) -> bool:
        return True


NO_FINDINGS = NoFindings()


class SecurityHubFindings:
    def __init__(
        self,
        client: Callable[[bool], SecurityHubClient],
        hub: Callable[[], Hub],
        at_or_above: Risk = Risk.HIGH,
    ) -> None:
        """`client(on_click)`: the Security Hub client (one that gives up early on a click's
        path); `hub()`: where findings go, found on first use."""
        self._client = client
        self._hub = hub
        self._at_or_above = at_or_above

    def posted(self, records: Iterable[ChangeRecord]) -> None:
        """Import the findings of changes just posted (as the detector held them before the
        post); those decided already (a policy's deny) get their workflow too."""
        chosen = [r for r in records if rated_at_or_above(r, self._at_or_above)]
        if not chosen:
            return
        imported = self._import(chosen)
        decided = [r for r in chosen if r.event_id in imported and workflow(r) is not None]
        for update, members in _by_update(decided).items():
            missing, _ = self._update(update, members, None)
            if missing:
                self._failed(missing, "BatchUpdateFindings", NOT_FOUND, "imported, not found")

    def decided(self, records: Iterable[ChangeRecord], deadline: Deadline | None = None) -> bool:
        """Set each decided change's finding workflow status and note. On a click's
        `deadline`, False when a call did not fit or failed (or a finding is missing)."""
        chosen = [r for r in records if eligible(r, self._at_or_above)]
        done = True
        for update, members in _by_update(chosen).items():
            missing, complete = self._update(update, members, deadline)
            if missing and deadline is None:
                imported = self._import(missing)
                unknown = [r for r in missing if r.event_id not in imported]
                missing, again = self._update(
                    update, [r for r in missing if r.event_id in imported], None
                )
                missing, complete = [*unknown, *missing], complete and again
            if missing and deadline is None:
                self._failed(missing, "BatchUpdateFindings", NOT_FOUND, "no such finding yet")
            done = done and complete and not missing
        return done

    # -- the calls -----------------------------------------------------------------------------

    def _import(self, records: Sequence[ChangeRecord]) -> set[str]:
        """Import; the event ids whose findings Security Hub accepted."""
        try:
            hub = self._hub()
        except (ClientError, BotoCoreError) as error:
            self._failed(records, "GetCallerIdentity", _code(error), str(error))
            return set()
        accepted: set[str] = set()
        for chunk in _chunks(records):
            by_id = {finding_id(r.event_id): r for r in chunk}
            try:
                response = self._client(False).batch_import_findings(
                    Findings=[finding(r, hub) for r in chunk]
                )
            except (ClientError, BotoCoreError) as error:
                self._failed(chunk, "BatchImportFindings", _code(error), str(error))
                continue
            failed: set[str] = set()
            for item in response.get("FailedFindings") or []:
                record = by_id.get(str(item.get("Id")))
                if record is not None:
                    failed.add(record.event_id)
                    self._failed(
                        [record],
                        "BatchImportFindings",
                        str(item.get("ErrorCode")),
                        str(item.get("ErrorMessage")),
                    )
            unreported = int(response.get("FailedCount") or 0) - len(failed)
            if unreported > 0:  # counted but not listed: which ones is not known
                logger.error(
                    "Security Hub did not import findings",
                    extra={"failed": unreported, "ids": sorted(by_id)},
                )
                metrics.security_hub_failures(unreported)
                continue
            accepted |= {r.event_id for r in chunk if r.event_id not in failed}
        if accepted:
            logger.info("findings imported", extra={"event_ids": sorted(accepted)})
        return accepted

    def _update(
        self, update: WorkflowUpdate, records: Sequence[ChangeRecord], deadline: Deadline | None
    ) -> tuple[list[ChangeRecord], bool]:
        """Update; the records whose finding Security Hub did not find, and whether every
        call was made and answered."""
        missing: list[ChangeRecord] = []
        complete = True
        for chunk in _chunks(records):
            if deadline is not None and not deadline.allows(CLICK_CALL_SECONDS):
                reason = "no time left before the click's answer is due"
                self._failed(chunk, "BatchUpdateFindings", "NoTimeLeft", reason)
                complete = False
                continue
            try:
                hub = self._hub()
            except (ClientError, BotoCoreError) as error:
                self._failed(chunk, "GetCallerIdentity", _code(error), str(error))
                complete = False
                continue
            by_id = {finding_id(r.event_id): r for r in chunk}
            try:
                response = self._client(deadline is not None).batch_update_findings(
                    FindingIdentifiers=[{"Id": i, "ProductArn": hub.product_arn} for i in by_id],
                    Workflow={"Status": update.status},
                    Note={"Text": update.note, "UpdatedBy": "sgrevert"},
                )
            except (ClientError, BotoCoreError) as error:
                self._failed(chunk, "BatchUpdateFindings", _code(error), str(error))
                complete = False
                continue
            for item in response.get("UnprocessedFindings") or []:
                record = by_id.get(str((item.get("FindingIdentifier") or {}).get("Id")))
                if record is None:
                    continue
                if item.get("ErrorCode") == NOT_FOUND:
                    missing.append(record)
                else:
                    code, message = str(item.get("ErrorCode")), str(item.get("ErrorMessage"))
                    self._failed([record], "BatchUpdateFindings", code, message)
            done = [str(i.get("Id")) for i in response.get("ProcessedFindings") or []]
            if done:
                logger.info("findings updated", extra={"ids": done, "status": update.status})
        return missing, complete

    @staticmethod
    def _failed(records: Sequence[ChangeRecord], call: str, code: str, reason: str) -> None:
        logger.error(
            "Security Hub call failed",
            extra={
                "call": call,
                "code": code,
                "reason": reason,
                "ids": [finding_id(r.event_id) for r in records],
            },
        )
        metrics.security_hub_failures(len(records))


def from_settings(enabled: bool, at_or_above: Risk, base: boto3.Session | None = None) -> Findings:
    """The findings adapter the settings ask for; clients are made on first use."""
    if not enabled:
        return NO_FINDINGS
    session = base or aws.session()

    @cache
    def client(on_click: bool) -> SecurityHubClient:
        config = aws.RETRY_CONFIG.merge(CLICK_CONFIG) if on_click else aws.RETRY_CONFIG
        found: SecurityHubClient = session.client("securityhub", config=config)
        return found

    @cache
    def hub() -> Hub:
        sts = session.client("sts", config=aws.RETRY_CONFIG.merge(IDENTITY_CONFIG))
        return hub_of(sts.get_caller_identity(), str(session.region_name))

    return SecurityHubFindings(client, hub, at_or_above)


def hub_of(identity: Mapping[str, Any], region: str) -> Hub:
    """This account's hub in `region`, from GetCallerIdentity (`Account`, `Arn`)."""
    partition = str(identity["Arn"]).split(":")[1]
    return Hub(account=str(identity["Account"]), region=region, partition=partition)


def _by_update(records: Iterable[ChangeRecord]) -> dict[WorkflowUpdate, list[ChangeRecord]]:
    """The records each workflow update applies to (one request each)."""
    groups: dict[WorkflowUpdate, list[ChangeRecord]] = {}
    for record in records:
        update = workflow(record)
        if update is not None:
            groups.setdefault(update, []).append(record)
    return groups


def _chunks(records: Sequence[ChangeRecord]) -> Iterable[Sequence[ChangeRecord]]:
    for start in range(0, len(records), BATCH_LIMIT):
        yield records[start : start + BATCH_LIMIT]


def _code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", "ClientError"))
    return type(error).__name__
