"""The CloudTrail Lake stand-in, driven only through boto3's cloudtrail client over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sandbox.lake import LakeStandIn
from tests.support import REGION

MEMBER = "222222222222"


def authorize_event(n: int, minute: int, **overrides: Any) -> dict[str, Any]:
    """A real-shaped AuthorizeSecurityGroupIngress record (one rule) made at 10:<minute>."""
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": "AROAEXAMPLE:alice",
            "arn": f"arn:aws:sts::{MEMBER}:assumed-role/Admin/alice{n}",
            "accountId": MEMBER,
            "accessKeyId": "ASIAEXAMPLE",
            "sessionContext": {
                "sessionIssuer": {
                    "type": "Role",
                    "principalId": "AROAEXAMPLE",
                    "arn": f"arn:aws:iam::{MEMBER}:role/Admin",
                    "accountId": MEMBER,
                    "userName": "Admin",
                },
                "attributes": {"creationDate": "2026-11-27T09:00:00Z", "mfaAuthenticated": "true"},
            },
        },
        "eventTime": f"2026-11-27T10:{minute:02d}:00Z",
        "eventSource": "ec2.amazonaws.com",
        "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {
            "groupId": f"sg-{n:04d}",
            "ipPermissions": {
                "items": [
                    {
                        "ipProtocol": "tcp",
                        "fromPort": 22,
                        "toPort": 22,
                        "groups": {},
                        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]},
                        "ipv6Ranges": {},
                        "prefixListIds": {},
                    }
                ]
            },
        },
        "responseElements": {
            "requestId": f"req-{n}",
            "_return": True,
            "securityGroupRuleSet": {
                "items": [
                    {
                        "groupOwnerId": MEMBER,
                        "groupId": f"sg-{n:04d}",
                        "securityGroupRuleId": f"sgr-{n:04d}",
                        "isEgress": False,
                        "ipProtocol": "tcp",
                        "fromPort": 22,
                        "toPort": 22,
                        "cidrIpv4": "0.0.0.0/0",
                    }
                ]
            },
        },
        "requestID": f"req-{n}",
        "eventID": f"evt-{n:04d}",
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": MEMBER,
        "eventCategory": "Management",
    }
    record.update(overrides)
    return record


@pytest.fixture
def lake() -> Iterator[LakeStandIn]:
    with LakeStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def store(lake: LakeStandIn) -> str:
    """The event data store's id, holding five successful calls (10:00..10:04) and a failed one."""
    arn = lake.create_event_data_store()
    records = [authorize_event(n, minute=n) for n in range(5)]
    failed = authorize_event(5, minute=2, errorCode="Client.InvalidPermission.Duplicate")
    failed["errorMessage"] = "the specified rule already exists"
    del failed["responseElements"]
    lake.put_records(arn, [*records, failed])
    return arn.rsplit("/", 1)[-1]


@pytest.fixture
def cloudtrail(lake: LakeStandIn) -> Any:
    return boto3.client(
        "cloudtrail",
        endpoint_url=lake.endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def run(cloudtrail: Any, statement: str, **kwargs: Any) -> list[dict[str, str]]:
    """Start a query, poll it to the end, read every page; rows as plain dicts."""
    query_id = cloudtrail.start_query(QueryStatement=statement)["QueryId"]
    while cloudtrail.describe_query(QueryId=query_id)["QueryStatus"] in ("QUEUED", "RUNNING"):
        pass
    rows: list[dict[str, str]] = []
    page = cloudtrail.get_query_results(QueryId=query_id, **kwargs)
    while True:
        assert page["QueryStatus"] == "FINISHED", page.get("ErrorMessage")
        rows.extend(
            {k: v for cell in row for k, v in cell.items()} for row in page["QueryResultRows"]
        )
        if "NextToken" not in page:
            return rows
        page = cloudtrail.get_query_results(QueryId=query_id, NextToken=page["NextToken"], **kwargs)


def error_code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_query_is_queued_then_running_then_finished(
    lake: LakeStandIn, store: str, cloudtrail: Any
) -> None:
    # Given a Lake that takes two polls to run a query
    lake.running_polls = 2
    # When a query is started and polled
    query_id = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    states = [cloudtrail.describe_query(QueryId=query_id)["QueryStatus"] for _ in range(3)]
    # Then it is QUEUED, RUNNING, then FINISHED with its statistics, and the statement is recorded
    assert states == ["QUEUED", "RUNNING", "FINISHED"]
    described = cloudtrail.describe_query(QueryId=query_id)
    assert described["QueryString"] == f"SELECT eventID FROM {store}"
    assert described["QueryStatistics"]["EventsMatched"] == 6
    assert described["QueryStatistics"]["EventsScanned"] == 6
    assert lake.statements == [f"SELECT eventID FROM {store}"]


def test_results_are_withheld_while_running(lake: LakeStandIn, store: str, cloudtrail: Any) -> None:
    query_id = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    first = cloudtrail.get_query_results(QueryId=query_id)
    assert first["QueryStatus"] == "RUNNING"
    assert first.get("QueryResultRows", []) == []
    second = cloudtrail.get_query_results(QueryId=query_id)
    assert second["QueryStatus"] == "FINISHED"
    assert len(second["QueryResultRows"]) == 6


def test_pages_follow_next_token(lake: LakeStandIn, store: str, cloudtrail: Any) -> None:
    # Given pages of two rows
    lake.page_size = 2
    lake.running_polls = 0
    query_id = cloudtrail.start_query(
        QueryStatement=f"SELECT eventID AS id FROM {store} ORDER BY eventID"
    )["QueryId"]
    # When every page is read
    pages = [cloudtrail.get_query_results(QueryId=query_id)]
    while "NextToken" in pages[-1]:
        pages.append(
            cloudtrail.get_query_results(QueryId=query_id, NextToken=pages[-1]["NextToken"])
        )
    # Then three pages hold the six rows in order, each with its counts
    assert [len(p["QueryResultRows"]) for p in pages] == [2, 2, 2]
    ids = [row[0]["id"] for p in pages for row in p["QueryResultRows"]]
    assert ids == [f"evt-{n:04d}" for n in range(6)]
    assert pages[0]["QueryStatistics"] == {
        "ResultsCount": 2,
        "TotalResultsCount": 6,
        "BytesScanned": pages[0]["QueryStatistics"]["BytesScanned"],
    }
    # And MaxQueryResults overrides the page size
    assert len(run(cloudtrail, f"SELECT eventID FROM {store}", MaxQueryResults=5)) == 6
    page = cloudtrail.get_query_results(QueryId=query_id, MaxQueryResults=5)
    assert len(page["QueryResultRows"]) == 5


def test_a_forged_next_token_is_refused(store: str, cloudtrail: Any) -> None:
    query_id = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    with pytest.raises(ClientError) as error:
        cloudtrail.get_query_results(QueryId=query_id, NextToken="not-a-token")
    assert error_code(error) == "InvalidNextTokenException"


def test_columns_have_lake_types(store: str, cloudtrail: Any) -> None:
    # When the detector's kind of query runs: time bounds, map subscripts, struct fields, NULLs
    rows = run(
        cloudtrail,
        f"""
        SELECT eventID AS event_id,
               eventTime AS event_time,
               requestParameters['groupId'] AS group_id,
               json_extract_scalar(responseElements['securityGroupRuleSet'],
                                   '$.items[0].securityGroupRuleId') AS rule_id,
               userIdentity.arn AS actor,
               userIdentity.sessioncontext.sessionissuer.arn AS issuer,
               readOnly AS read_only
        FROM {store}
        WHERE eventSource = 'ec2.amazonaws.com'
          AND eventName IN ('AuthorizeSecurityGroupIngress', 'AuthorizeSecurityGroupEgress')
          AND errorCode IS NULL
          AND eventTime >= timestamp '2026-11-27 10:01:00'
          AND eventTime < '2026-11-27 10:04:00'
        ORDER BY eventTime
        """,
    )
    # Then the bounds, the NULL test and every type behave as in Lake, each value a string
    assert rows == [
        {
            "event_id": f"evt-{n:04d}",
            "event_time": f"2026-11-27 10:{n:02d}:00.000",
            "group_id": f"sg-{n:04d}",
            "rule_id": f"sgr-{n:04d}",
            "actor": f"arn:aws:sts::{MEMBER}:assumed-role/Admin/alice{n}",
            "issuer": f"arn:aws:iam::{MEMBER}:role/Admin",
            "read_only": "false",
        }
        for n in (1, 2, 3)
    ]


def test_nested_map_values_are_json_text_and_event_json_is_the_record(
    lake: LakeStandIn, cloudtrail: Any
) -> None:
    arn = lake.create_event_data_store()
    record = authorize_event(7, minute=7)
    lake.put_records(arn, [record])
    [row] = run(
        cloudtrail,
        f"SELECT requestParameters['ipPermissions'] AS perms, eventJson AS raw, "
        f"responseElements['_return'] AS ret FROM {arn}",
    )
    assert json.loads(row["perms"]) == record["requestParameters"]["ipPermissions"]
    assert json.loads(row["raw"]) == record
    assert row["ret"] == "true"


def test_unaliased_expressions_are_col_n_and_null_cells_are_left_out(
    lake: LakeStandIn, store: str, cloudtrail: Any
) -> None:
    # When a query selects a plain column, a struct field, a subscript and a NULL column
    statement = (
        f"SELECT eventID, userIdentity.username, requestParameters['groupId'], count(*) OVER () "
        f"FROM {store} WHERE eventID = 'evt-0000'"
    )
    [row] = run(cloudtrail, statement, MaxQueryResults=10)
    # Then columns keep their names, expressions are named by position, NULL cells are absent
    assert row == {"eventID": "evt-0000", "_col2": "sg-0000", "_col3": "1"}
    assert run(cloudtrail, f"SELECT count(*) FROM {store}") == [{"_col0": "6"}]
    assert run(cloudtrail, f"SELECT * FROM {store} WHERE eventID = 'evt-0000'")[0]["eventName"] == (
        "AuthorizeSecurityGroupIngress"
    )
    # And a Lake configured to print NULLs keeps every cell
    lake.null_value = ""
    assert run(cloudtrail, statement)[0]["username"] == ""


def test_whole_maps_and_structs_print_like_lake(store: str, cloudtrail: Any) -> None:
    [row] = run(
        cloudtrail,
        f"SELECT requestParameters AS rp, userIdentity AS ui FROM {store} WHERE eventID = 'evt-0001'",
    )
    assert row["rp"].startswith("{groupId=sg-0001, ipPermissions={")
    assert row["ui"].startswith("{type=AssumedRole, principalid=AROAEXAMPLE:alice, arn=")
    assert "accesskeyid=ASIAEXAMPLE, username=null," in row["ui"]


def test_a_syntax_error_is_refused_at_start(store: str, cloudtrail: Any) -> None:
    for statement in (f"SELECT eventID FROM {store} WHERE (", f"DELETE FROM {store}", "SELECT 1"):
        with pytest.raises(ClientError) as error:
            cloudtrail.start_query(QueryStatement=statement)
        assert error_code(error) == "InvalidQueryStatementException", statement


def test_a_query_that_cannot_run_fails_with_a_message(store: str, cloudtrail: Any) -> None:
    query_id = cloudtrail.start_query(QueryStatement=f"SELECT no_such_column FROM {store}")[
        "QueryId"
    ]
    cloudtrail.describe_query(QueryId=query_id)  # the running phase
    described = cloudtrail.describe_query(QueryId=query_id)
    results = cloudtrail.get_query_results(QueryId=query_id)
    assert described["QueryStatus"] == results["QueryStatus"] == "FAILED"
    assert "no_such_column" in described["ErrorMessage"]
    assert results["ErrorMessage"] == described["ErrorMessage"]
    assert "QueryResultRows" not in results or results["QueryResultRows"] == []


def test_an_unknown_store_is_not_found(lake: LakeStandIn, cloudtrail: Any) -> None:
    unknown = "0b9a8c7d-1e2f-4a3b-8c9d-0e1f2a3b4c5d"
    for statement in (
        f"SELECT eventID FROM {unknown}",
        f"SELECT eventID FROM arn:aws:cloudtrail:{REGION}:123456789012:eventdatastore/{unknown}",
        "SELECT eventID FROM cloudtrail_events",
    ):
        with pytest.raises(ClientError) as error:
            cloudtrail.start_query(QueryStatement=statement)
        assert error_code(error) == "EventDataStoreNotFoundException", statement


def test_a_store_is_named_by_id_arn_or_quoted_id(lake: LakeStandIn, cloudtrail: Any) -> None:
    arn = lake.create_event_data_store()
    lake.put_records(arn, [authorize_event(1, minute=1)])
    store_id = arn.rsplit("/", 1)[-1]
    for target in (store_id, arn, f'"{store_id}"', store_id.upper()):
        assert run(cloudtrail, f"SELECT eventID FROM {target}") == [{"eventID": "evt-0001"}]


def test_a_stalled_query_runs_until_cancelled(
    lake: LakeStandIn, store: str, cloudtrail: Any
) -> None:
    # Given queries that never finish
    lake.stall_queries = True
    query_id = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    states = {cloudtrail.describe_query(QueryId=query_id)["QueryStatus"] for _ in range(5)}
    assert states == {"RUNNING"}
    # When it is cancelled
    answer = cloudtrail.cancel_query(QueryId=query_id)
    # Then it is CANCELLED, recorded, and cannot be cancelled twice
    assert answer["QueryStatus"] == "CANCELLED"
    assert cloudtrail.describe_query(QueryId=query_id)["QueryStatus"] == "CANCELLED"
    assert lake.cancelled == [query_id]
    with pytest.raises(ClientError) as error:
        cloudtrail.cancel_query(QueryId=query_id)
    assert error_code(error) == "InactiveQueryException"


def test_a_finished_query_cannot_be_cancelled(
    lake: LakeStandIn, store: str, cloudtrail: Any
) -> None:
    lake.running_polls = 0
    query_id = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    with pytest.raises(ClientError) as error:
        cloudtrail.cancel_query(QueryId=query_id)
    assert error_code(error) == "InactiveQueryException"
    assert lake.cancelled == []


def test_an_unknown_query_id_is_not_found(cloudtrail: Any) -> None:
    for call in (cloudtrail.describe_query, cloudtrail.get_query_results, cloudtrail.cancel_query):
        with pytest.raises(ClientError) as error:
            call(QueryId="00000000-0000-4000-8000-000000000000")
        assert error_code(error) == "QueryIdNotFoundException"


@pytest.mark.parametrize("state", ["FAILED", "TIMED_OUT", "CANCELLED"])
def test_the_next_query_can_be_made_to_fail(
    lake: LakeStandIn, store: str, cloudtrail: Any, state: str
) -> None:
    # Given a failure armed for the next query
    lake.fail_next_query(state, message="Query exceeded its time limit")
    failing = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    # Then that query runs, then ends in the state with the message; the one after is healthy
    assert cloudtrail.get_query_results(QueryId=failing)["QueryStatus"] == "RUNNING"
    results = cloudtrail.get_query_results(QueryId=failing)
    assert results["QueryStatus"] == state
    assert results["ErrorMessage"] == "Query exceeded its time limit"
    assert cloudtrail.describe_query(QueryId=failing)["QueryStatus"] == state
    assert len(run(cloudtrail, f"SELECT eventID FROM {store}")) == 6


def test_concurrent_queries_are_limited_when_asked(
    lake: LakeStandIn, store: str, cloudtrail: Any
) -> None:
    lake.max_concurrent_queries = 2
    lake.stall_queries = True
    first = cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")["QueryId"]
    cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")
    with pytest.raises(ClientError) as error:
        cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")
    assert error_code(error) == "MaxConcurrentQueriesException"
    cloudtrail.cancel_query(QueryId=first)
    cloudtrail.start_query(QueryStatement=f"SELECT eventID FROM {store}")


def test_queries_from_many_threads(store: str, cloudtrail: Any) -> None:
    statement = f"SELECT eventID FROM {store} WHERE errorCode IS NULL"
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: len(run(cloudtrail, statement)), range(16)))
    assert results == [5] * 16


def test_event_data_stores_are_listed_and_reached_through_the_endpoint_variable(
    lake: LakeStandIn, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given boto3 configured only through the standard variables, as the detector is
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", lake.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    client = boto3.Session().client("cloudtrail")
    # Then the store is listed and can be described by id
    [listed] = client.list_event_data_stores()["EventDataStores"]
    assert listed["EventDataStoreArn"].endswith(f":eventdatastore/{store}")
    assert listed["Name"] == "org-trail"
    assert (
        client.get_event_data_store(EventDataStore=store)["EventDataStoreArn"]
        == listed["EventDataStoreArn"]
    )
