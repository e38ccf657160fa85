"""Applies a plan where the change happened: role chain, EC2 client, then the adapter for
the plan's kind (revoke, restore, prefix-list entries).

Refuses up front what cannot work (nothing recorded to undo, the organization's
management account, which has no spoke role) so the reviewer reads why instead of an
AccessDenied.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sgrevert import aws
from sgrevert.prefix_entries import remove_entries
from sgrevert.restore import restore
from sgrevert.revert import (
    Plan,
    PrefixListPlan,
    RestorePlan,
    RevokeTally,
    management_account_failure,
    no_rules_failure,
)
from sgrevert.revoke import revoke
from sgrevert.roles import RoleChain, management_account

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_organizations.client import OrganizationsClient


class SpokeReverter:
    def __init__(self, chain: RoleChain, organizations: OrganizationsClient) -> None:
        self._chain = chain
        self._organizations = organizations
        self._management: str | None = None

    def management_account(self) -> str | None:
        # The management account never changes; ask until someone answers, then remember.
        if self._management is None:
            self._management = management_account(self._organizations)
        return self._management

    def apply(self, plan: Plan, denied_by: str) -> RevokeTally:
        """Undo the plan in its account and region. RevertFailed says why not."""
        if plan.item_count == 0:
            raise no_rules_failure(plan)
        if plan.account == self.management_account():
            raise management_account_failure(plan)
        session = self._chain.spoke_session(plan.account, plan.partition, plan.region, denied_by)
        ec2: EC2Client = aws.client("ec2", session, region_name=plan.region)
        return apply_plan(plan, ec2)


def apply_plan(plan: Plan, ec2: EC2Client) -> RevokeTally:
    """The adapter for the plan's kind, with an EC2 client where the change happened."""
    if isinstance(plan, RestorePlan):
        return restore(plan, ec2)
    if isinstance(plan, PrefixListPlan):
        return remove_entries(plan, ec2)
    return revoke(plan, ec2)
