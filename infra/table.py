"""The change table, built from `sgrevert.store.table_definition()` so infra and code agree.

The definition is DynamoDB `create_table` keyword arguments (what tests and the sandbox
create); this construct translates it, and a test checks the template against it.
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct, IConstruct

from infra import nag
from sgrevert import store

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {
    "ALL": dynamodb.ProjectionType.ALL,
    "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY,
    "INCLUDE": dynamodb.ProjectionType.INCLUDE,
}


def _keys(
    key_schema: list[dict[str, str]], types: dict[str, str]
) -> tuple[dynamodb.Attribute, dynamodb.Attribute | None]:
    by_type = {k["KeyType"]: k["AttributeName"] for k in key_schema}

    def attribute(name: str) -> dynamodb.Attribute:
        return dynamodb.Attribute(name=name, type=_TYPES[types[name]])

    sort = by_type.get("RANGE")
    return attribute(by_type["HASH"]), attribute(sort) if sort else None


class ChangeTable(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, table_name: str) -> None:
        super().__init__(scope, construct_id)
        definition: dict[str, Any] = store.table_definition(table_name)
        if definition["BillingMode"] != "PAY_PER_REQUEST":
            raise ValueError("the table definition must be on-demand (PAY_PER_REQUEST)")
        types = {a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]}
        partition_key, sort_key = _keys(definition["KeySchema"], types)
        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=definition["TableName"],
            partition_key=partition_key,
            sort_key=sort_key,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=store.TTL_ATTRIBUTE,
            # AWS-managed KMS key: encrypted and auditable in CloudTrail, no key to run.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            deletion_protection=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index in definition.get("GlobalSecondaryIndexes", []):
            index_pk, index_sk = _keys(index["KeySchema"], types)
            projection = index["Projection"]
            self.table.add_global_secondary_index(
                index_name=index["IndexName"],
                partition_key=index_pk,
                sort_key=index_sk,
                projection_type=_PROJECTIONS[projection["ProjectionType"]],
                non_key_attributes=projection.get("NonKeyAttributes"),
            )
        if definition.get("LocalSecondaryIndexes"):
            raise ValueError("local secondary indexes are not translated yet")

    def grant_read_write(self, grantee: iam.IGrantable, policy_owner: IConstruct) -> None:
        """Item read/write on the table and its indexes (`policy_owner`: the grantee's role)."""
        self.table.grant_read_write_data(grantee)
        resource = self.table.node.default_child
        assert isinstance(resource, cdk.CfnElement)
        nag.acknowledge(
            policy_owner,
            "AwsSolutions-IAM5",
            f"Resource::<{cdk.Stack.of(self).get_logical_id(resource)}.Arn>/index/*",
            "queries on this table's own indexes (unposted changes, changes by state, a "
            "group's history)",
        )
