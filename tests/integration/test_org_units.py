"""An account's OU chain on moto's Organizations: nested OUs up to the root, read once an
hour per level, and a failure (an unknown account, a refused call) told as a reason and
retried after a minute."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from sgrevert.org_units import (
    CLIENT_MAX_AGE_SECONDS,
    MAX_AGE_SECONDS,
    RETRY_AFTER_SECONDS,
    OrgUnits,
)


@dataclass
class Clock:
    """A monotonic clock moved by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Organizations:
    """Builds Organizations clients for `OrgUnits`, counting them and the ListParents calls
    they make (botocore's event system sees each call before it is sent), and refusing
    those for the children in `refused` as AWS does without the permission."""

    built: int = 0
    asked: list[str] = field(default_factory=list)  # ChildId of each ListParents
    refused: set[str] = field(default_factory=set)

    def __call__(self) -> Any:
        self.built += 1
        client = boto3.client("organizations")
        client.meta.events.register("provide-client-params.organizations.ListParents", self._ask)
        return client

    def _ask(self, params: dict[str, Any], **_: Any) -> None:
        self.asked.append(params["ChildId"])
        if params["ChildId"] in self.refused:
            raise ClientError(
                {
                    "Error": {
                        "Code": "AccessDeniedException",
                        "Message": "You don't have permissions to access this resource.",
                    }
                },
                "ListParents",
            )


@dataclass(frozen=True)
class Tree:
    root: str
    workloads: str  # an OU under the root
    prod: str  # an OU under workloads
    payments: str  # an account in prod
    billing: str  # another account in prod
    security: str  # an account under the root itself


@pytest.fixture
def tree(aws: str) -> Tree:
    orgs = boto3.client("organizations")
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]

    def ou(parent: str, name: str) -> str:
        return orgs.create_organizational_unit(ParentId=parent, Name=name)["OrganizationalUnit"][
            "Id"
        ]

    def account(name: str, parent: str) -> str:
        status = orgs.create_account(AccountName=name, Email=f"{name}@example.com")
        account_id = status["CreateAccountStatus"]["AccountId"]
        if parent != root:
            orgs.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=parent)
        return account_id

    workloads = ou(root, "Workloads")
    prod = ou(workloads, "Prod")
    return Tree(
        root=root,
        workloads=workloads,
        prod=prod,
        payments=account("payments", prod),
        billing=account("billing", prod),
        security=account("security", root),
    )


def test_nested_ous_give_the_whole_chain_nearest_first_up_to_the_root(tree: Tree) -> None:
    units = OrgUnits(Organizations())

    assert units.chain(tree.payments) == ((tree.prod, tree.workloads, tree.root), None)
    assert units.chain(tree.security) == ((tree.root,), None)
    assert tree.root.startswith("r-")


def test_a_second_call_makes_no_request_and_accounts_in_one_ou_share_the_reads_above(
    tree: Tree,
) -> None:
    organizations = Organizations()
    units = OrgUnits(organizations, clock=Clock())

    first = units.chain(tree.payments)
    assert organizations.asked == [tree.payments, tree.prod, tree.workloads]

    assert units.chain(tree.payments) == first
    assert organizations.asked == [tree.payments, tree.prod, tree.workloads]  # nothing new

    assert units.chain(tree.billing) == first
    assert organizations.asked[3:] == [tree.billing]  # prod's parents were known already


def test_after_an_hour_it_reads_again_and_sees_a_moved_account(tree: Tree) -> None:
    organizations, clock = Organizations(), Clock()
    units = OrgUnits(organizations, clock=clock)
    units.chain(tree.payments)
    boto3.client("organizations").move_account(
        AccountId=tree.payments, SourceParentId=tree.prod, DestinationParentId=tree.workloads
    )

    clock.now += MAX_AGE_SECONDS - 1
    assert units.chain(tree.payments) == ((tree.prod, tree.workloads, tree.root), None)
    assert len(organizations.asked) == 3

    clock.now += 1
    assert units.chain(tree.payments) == ((tree.workloads, tree.root), None)
    assert organizations.asked[3:] == [tree.payments, tree.workloads]


def test_an_unknown_account_gives_no_chain_and_a_reason(tree: Tree) -> None:
    units = OrgUnits(Organizations())

    chain, why = units.chain("999999999999")

    assert chain is None
    assert why is not None
    assert why.startswith("ListParents 999999999999: ")
    assert units.chain(tree.payments) == ((tree.prod, tree.workloads, tree.root), None)


def test_a_refused_call_gives_a_reason_and_is_asked_again_only_after_a_minute(
    tree: Tree,
) -> None:
    organizations, clock = Organizations(refused={tree.payments}), Clock()
    units = OrgUnits(organizations, clock=clock)
    refused = (None, f"ListParents {tree.payments}: AccessDeniedException")

    assert units.chain(tree.payments) == refused
    organizations.refused.clear()
    clock.now += RETRY_AFTER_SECONDS - 1
    assert units.chain(tree.payments) == refused
    assert organizations.asked == [tree.payments]  # remembered, not asked again

    clock.now += 1
    assert units.chain(tree.payments) == ((tree.prod, tree.workloads, tree.root), None)
    assert organizations.asked == [tree.payments, tree.payments, tree.prod, tree.workloads]


def test_a_refusal_higher_up_gives_a_reason_and_keeps_the_levels_read_below_it(
    tree: Tree,
) -> None:
    organizations, clock = Organizations(refused={tree.workloads}), Clock()
    units = OrgUnits(organizations, clock=clock)

    assert units.chain(tree.payments) == (
        None,
        f"ListParents {tree.workloads}: AccessDeniedException",
    )
    organizations.refused.clear()
    clock.now += RETRY_AFTER_SECONDS

    assert units.chain(tree.payments) == ((tree.prod, tree.workloads, tree.root), None)
    assert organizations.asked == [tree.payments, tree.prod, tree.workloads, tree.workloads]


def test_the_client_is_built_on_first_use_and_again_before_its_credentials_can_expire(
    tree: Tree,
) -> None:
    organizations, clock = Organizations(), Clock()
    units = OrgUnits(organizations, clock=clock)
    assert organizations.built == 0

    units.chain(tree.payments)
    units.chain(tree.security)
    assert organizations.built == 1

    clock.now += CLIENT_MAX_AGE_SECONDS
    units.chain(tree.billing)
    assert organizations.built == 2
