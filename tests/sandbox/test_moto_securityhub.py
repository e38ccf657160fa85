"""The Security Hub parts moto lacks (sandbox/moto_securityhub.py), driven only through boto3
over HTTP."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox import moto_securityhub
from tests.support import REGION, SECURITY_ACCOUNT

PRODUCT = f"arn:aws:securityhub:{REGION}:{SECURITY_ACCOUNT}:product/{SECURITY_ACCOUNT}/default"


@pytest.fixture
def hub(aws: str) -> Any:
    moto_securityhub.install()
    client = boto3.client("securityhub", region_name=REGION)
    client.enable_security_hub()
    return client


def _finding(**overrides: Any) -> dict[str, Any]:
    return {
        "SchemaVersion": "2018-10-08",
        "Id": "sgrevert/change/1",
        "ProductArn": PRODUCT,
        "GeneratorId": "sgrevert/security-group-change",
        "AwsAccountId": SECURITY_ACCOUNT,
        "Types": ["Software and Configuration Checks/AWS Security Best Practices/Network"],
        "CreatedAt": "2026-11-27T10:00:00Z",
        "UpdatedAt": "2026-11-27T10:00:00Z",
        "Severity": {"Label": "HIGH", "Original": "high"},
        "Title": "AuthorizeSecurityGroupIngress on sg-1",
        "Description": "0.0.0.0/0 to tcp 22",
        "Resources": [{"Type": "AwsEc2SecurityGroup", "Id": "arn:aws:ec2:eu-west-1:1:sg/sg-1"}],
        **overrides,
    }


def _only(hub: Any) -> dict[str, Any]:
    [found] = hub.get_findings()["Findings"]
    return dict(found)


def _identifier(finding_id: str = "sgrevert/change/1") -> dict[str, str]:
    return {"Id": finding_id, "ProductArn": PRODUCT}


def test_a_new_finding_starts_new_and_active_with_the_providers_fields(hub: Any) -> None:
    answer = hub.batch_import_findings(Findings=[_finding()])

    assert (answer["SuccessCount"], answer["FailedCount"]) == (1, 0)
    found = _only(hub)
    assert found["Workflow"] == {"Status": "NEW"}
    assert found["RecordState"] == "ACTIVE"
    assert found["FindingProviderFields"]["Severity"] == {"Label": "HIGH", "Original": "high"}


def test_a_finding_without_a_resource_fails_alone(hub: Any) -> None:
    """boto3 itself refuses a missing field; an empty Resources list reaches the service."""
    incomplete = _finding(Id="sgrevert/change/2", Resources=[])

    answer = hub.batch_import_findings(Findings=[_finding(), incomplete])

    assert (answer["SuccessCount"], answer["FailedCount"]) == (1, 1)
    [failed] = answer["FailedFindings"]
    assert (failed["Id"], failed["ErrorCode"]) == ("sgrevert/change/2", "InvalidInput")
    assert "Resources" in failed["ErrorMessage"]


def test_without_security_hub_enabled_every_finding_fails_with_invalid_access(hub: Any) -> None:
    hub.disable_security_hub()

    answer = hub.batch_import_findings(Findings=[_finding()])

    assert answer["FailedCount"] == 1
    assert answer["FailedFindings"][0]["ErrorCode"] == "InvalidAccess"


def test_an_import_that_is_not_later_is_ignored(hub: Any) -> None:
    hub.batch_import_findings(Findings=[_finding()])

    hub.batch_import_findings(Findings=[_finding(Title="changed")])

    assert _only(hub)["Title"] == "AuthorizeSecurityGroupIngress on sg-1"


def test_a_later_import_updates_the_finding_but_never_its_workflow_or_note(hub: Any) -> None:
    hub.batch_import_findings(Findings=[_finding()])
    hub.batch_update_findings(
        FindingIdentifiers=[_identifier()],
        Workflow={"Status": "SUPPRESSED"},
        Note={"Text": "approved by U0ALICE", "UpdatedBy": "sgrevert"},
    )

    hub.batch_import_findings(
        Findings=[
            _finding(
                Title="changed",
                UpdatedAt="2026-11-27T11:00:00Z",
                Workflow={"Status": "NEW"},
                Note={"Text": "x", "UpdatedBy": "y", "UpdatedAt": "2026-11-27T11:00:00Z"},
            )
        ]
    )

    found = _only(hub)
    assert found["Title"] == "changed"
    assert found["Workflow"] == {"Status": "SUPPRESSED"}
    assert found["Note"]["Text"] == "approved by U0ALICE"


def test_an_update_sets_the_workflow_and_note_and_reports_each_finding(hub: Any) -> None:
    hub.batch_import_findings(Findings=[_finding()])

    answer = hub.batch_update_findings(
        FindingIdentifiers=[_identifier(), _identifier("sgrevert/change/9"), _identifier()],
        Workflow={"Status": "RESOLVED"},
        Note={"Text": "reverted", "UpdatedBy": "sgrevert"},
    )

    assert answer["ProcessedFindings"] == [_identifier()]
    assert [
        (u["FindingIdentifier"]["Id"], u["ErrorCode"]) for u in answer["UnprocessedFindings"]
    ] == [
        ("sgrevert/change/9", "FindingNotFound"),
        ("sgrevert/change/1", "DuplicatedFindingIdentifier"),
    ]
    found = _only(hub)
    assert found["Workflow"] == {"Status": "RESOLVED"}
    assert (found["Note"]["Text"], found["Note"]["UpdatedBy"]) == ("reverted", "sgrevert")
    assert found["Note"]["UpdatedAt"]
    assert found["UpdatedAt"] == "2026-11-27T10:00:00Z"  # an update never moves it


def test_an_unknown_status_or_a_long_note_is_invalid_input(hub: Any) -> None:
    hub.batch_import_findings(Findings=[_finding()])

    for extra in (
        {"Workflow": {"Status": "CLOSED"}},
        {"Note": {"Text": "x" * 513, "UpdatedBy": "sgrevert"}},
    ):
        with pytest.raises(ClientError) as raised:
            hub.batch_update_findings(FindingIdentifiers=[_identifier()], **extra)
        assert raised.value.response["Error"]["Code"] == "InvalidInputException"


def test_an_update_without_security_hub_enabled_is_refused(hub: Any) -> None:
    hub.disable_security_hub()

    with pytest.raises(ClientError) as raised:
        hub.batch_update_findings(FindingIdentifiers=[_identifier()], Workflow={"Status": "NEW"})

    assert raised.value.response["Error"]["Code"] == "InvalidAccessException"
