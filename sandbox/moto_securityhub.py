"""What moto's Security Hub lacks for sgrevert, added as the Security Hub API Reference
documents it.

moto (5.2) keeps imported findings; sgrevert's findings meet these gaps. `install()` fills
them in this process, so both an in-process moto and a `ThreadedMotoServer` answer them
(before the server's first Security Hub request: the route is read then); it is idempotent.

- `BatchUpdateFindings` (`PATCH /findings/batchupdate`; moto has no such action): 1-100
  `FindingIdentifiers` of `{Id, ProductArn}`; sets `Workflow.Status` (NEW, NOTIFIED,
  RESOLVED, SUPPRESSED), `Note` (`Text` up to 512 characters, `UpdatedBy`, `UpdatedAt`
  now), `Severity`, `VerificationState`, `Types`, `UserDefinedFields`, `Confidence`,
  `Criticality`, `RelatedFindings`; never `UpdatedAt`.
  Answers `ProcessedFindings` and `UnprocessedFindings` of `{FindingIdentifier, ErrorCode,
  ErrorMessage}` (`FindingNotFound`, `DuplicatedFindingIdentifier`). A hub that is not
  enabled answers `InvalidAccessException`.
- `BatchImportFindings` creates a finding whose `Id` is new, with `Workflow.Status` NEW
  and `RecordState` ACTIVE unless given, and `FindingProviderFields` from the top-level
  `Severity` and `Types` when absent. A finding whose `Id` exists is updated only when the
  import's `UpdatedAt` is later than the finding's, and never its `Note`,
  `UserDefinedFields`, `VerificationState` or `Workflow` (moto replaced everything, every
  time). A finding without one of the required ASFF fields fails with `InvalidInput`, and
  every finding fails with `InvalidAccess` when the hub is not enabled (moto accepted all).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from moto.securityhub import urls
from moto.securityhub.exceptions import SecurityHubClientError
from moto.securityhub.models import Finding, SecurityHubBackend
from moto.securityhub.responses import SecurityHubResponse

_INSTALLED = "_sgrevert_stand_in"
_BATCH_UPDATE_PATH = "{0}/findings/batchupdate$"
REQUIRED = (
    "SchemaVersion",
    "Id",
    "ProductArn",
    "GeneratorId",
    "AwsAccountId",
    "CreatedAt",
    "UpdatedAt",
    "Title",
    "Description",
    "Resources",
)
# After a finding is created, an import cannot change these (the customer's workflow).
CUSTOMER_FIELDS = ("Note", "UserDefinedFields", "VerificationState", "Workflow")
WORKFLOW_STATUSES = frozenset({"NEW", "NOTIFIED", "RESOLVED", "SUPPRESSED"})
_UPDATABLE = (
    "Severity",
    "VerificationState",
    "Types",
    "UserDefinedFields",
    "Confidence",
    "Criticality",
    "RelatedFindings",
)
MAX_IDENTIFIERS = 100
MAX_NOTE = 512
_NOT_ENABLED = "Account is not subscribed to AWS Security Hub"


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _invalid(message: str) -> SecurityHubClientError:
    return SecurityHubClientError("InvalidInputException", message)


def batch_import_findings(
    self: SecurityHubBackend, findings: list[dict[str, Any]]
) -> tuple[int, int, list[dict[str, Any]]]:
    failed: list[dict[str, Any]] = []
    succeeded = 0
    for data in findings:
        finding_id = str(data.get("Id", ""))
        if not self.enabled:
            failed.append(_failure(finding_id, "InvalidAccess", _NOT_ENABLED))
            continue
        missing = [field for field in REQUIRED if not data.get(field)]
        if missing:
            message = f"Finding does not contain the required fields: {', '.join(missing)}"
            failed.append(_failure(finding_id, "InvalidInput", message))
            continue
        existing = next((f for f in self.findings if f.id == finding_id), None)
        if existing is None:
            self.findings.append(Finding(finding_id, _created(data)))
        elif _time(str(data["UpdatedAt"])) > _time(str(existing.data["UpdatedAt"])):
            kept = {k: existing.data[k] for k in CUSTOMER_FIELDS if k in existing.data}
            existing.data.update({k: v for k, v in data.items() if k not in CUSTOMER_FIELDS})
            existing.data.update(kept)
        succeeded += 1  # an update that is not later is ignored, and not an error
    return len(failed), succeeded, failed


def _failure(finding_id: str, code: str, message: str) -> dict[str, str]:
    return {"Id": finding_id, "ErrorCode": code, "ErrorMessage": message}


def _created(data: dict[str, Any]) -> dict[str, Any]:
    created = copy.deepcopy(data)
    created.setdefault("Workflow", {"Status": "NEW"})
    created.setdefault("RecordState", "ACTIVE")
    provider = created.setdefault("FindingProviderFields", {})
    for field in ("Severity", "Types"):
        if field in created and field not in provider:
            provider[field] = copy.deepcopy(created[field])
    return created


def batch_update_findings(self: SecurityHubResponse) -> str:
    backend = self.securityhub_backend
    if not backend.enabled:
        raise SecurityHubClientError("InvalidAccessException", _NOT_ENABLED)
    body = json.loads(self.body or "{}")
    identifiers = body.get("FindingIdentifiers") or []
    if not 1 <= len(identifiers) <= MAX_IDENTIFIERS:
        raise _invalid(f"FindingIdentifiers must hold 1 to {MAX_IDENTIFIERS} findings")
    workflow = body.get("Workflow") or {}
    status = workflow.get("Status")
    if status is not None and status not in WORKFLOW_STATUSES:
        raise _invalid(f"Workflow.Status must be one of {', '.join(sorted(WORKFLOW_STATUSES))}")
    note = body.get("Note")
    if note is not None and not (note.get("Text") and note.get("UpdatedBy")):
        raise _invalid("Note needs Text and UpdatedBy")
    if note is not None and len(note["Text"]) > MAX_NOTE:
        raise _invalid(f"Note.Text is longer than {MAX_NOTE} characters")
    processed: list[dict[str, str]] = []
    unprocessed: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for identifier in identifiers:
        key = (str(identifier.get("Id")), str(identifier.get("ProductArn")))
        target = {"Id": key[0], "ProductArn": key[1]}
        if key in seen:
            unprocessed.append(_unprocessed(target, "DuplicatedFindingIdentifier"))
            continue
        seen.add(key)
        found = next((f for f in backend.findings if (f.id, f.data.get("ProductArn")) == key), None)
        if found is None:
            unprocessed.append(_unprocessed(target, "FindingNotFound"))
            continue
        if status is not None:
            found.data["Workflow"] = {"Status": status}
        if note is not None:
            found.data["Note"] = {
                "Text": note["Text"],
                "UpdatedBy": note["UpdatedBy"],
                "UpdatedAt": now,
            }
        for field in _UPDATABLE:
            if field in body:
                found.data[field] = copy.deepcopy(body[field])
        processed.append(target)
    return json.dumps({"ProcessedFindings": processed, "UnprocessedFindings": unprocessed})


_MESSAGES = {
    "FindingNotFound": "Finding Not Found",
    "DuplicatedFindingIdentifier": "Finding Identifier is duplicated",
}


def _unprocessed(target: dict[str, str], code: str) -> dict[str, Any]:
    return {"FindingIdentifier": target, "ErrorCode": code, "ErrorMessage": _MESSAGES[code]}


def install() -> None:
    """Add the missing parts to moto's Security Hub in this process (once)."""
    if getattr(SecurityHubBackend, _INSTALLED, False):
        return
    urls.url_paths[_BATCH_UPDATE_PATH] = SecurityHubResponse.dispatch
    SecurityHubBackend.batch_import_findings = batch_import_findings  # type: ignore[method-assign]
    SecurityHubResponse.batch_update_findings = batch_update_findings  # type: ignore[attr-defined]
    setattr(SecurityHubBackend, _INSTALLED, True)
