"""What moto's EC2 lacks for sgrevert, added to moto as the EC2 API Reference documents it.

moto (5.2) has managed prefix lists and `ModifySecurityGroupRules`, with three gaps that
sgrevert's detector and responder meet. `install()` fills them in this process, so both
an in-process moto and a `ThreadedMotoServer` answer them; it is idempotent.

- `GetManagedPrefixListAssociations` (moto has no such action): `PrefixListId` required,
  `MaxResults` 5-255, `NextToken`; answers `PrefixListAssociations[]` of
  `{ResourceId, ResourceOwner}` for the security groups whose rules reference the list,
  and `InvalidPrefixListID.NotFound` for an unknown list.
- `ModifyManagedPrefixList` with a `CurrentVersion` that is not the list's version fails
  with `PrefixListVersionMismatch` ("The prefix list has the incorrect version number.");
  moto ignored it. An unknown list is `InvalidPrefixListID.NotFound` (moto crashed), and a
  call that does not name the list keeps its name (moto cleared it).
- `ModifySecurityGroupRules` replaces the whole rule, whatever its source: moto changed
  only IPv4 CIDR rules and kept the old description when none was given. Exactly one of
  `CidrIpv4`, `CidrIpv6`, `PrefixListId`, `ReferencedGroupId`; ports only for tcp, udp and
  icmp; the address family of a CIDR rule cannot change.
"""

from __future__ import annotations

import itertools
from typing import Any

from moto.core.responses import ActionResult
from moto.ec2.exceptions import (
    EC2ClientError,
    InvalidParameterValue,
    InvalidSecurityGroupNotFoundError,
    InvalidSecurityGroupRuleIdNotFoundError,
)
from moto.ec2.models.managed_prefixes import ManagedPrefixList, ManagedPrefixListBackend
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.ec2.responses import EC2Response

_INSTALLED = "_sgrevert_stand_in"
_ORIGINAL_MODIFY_LIST = ManagedPrefixListBackend.modify_managed_prefix_list
_PORTED = frozenset({"tcp", "udp", "icmp", "icmpv6", "6", "17", "1", "58"})
_SOURCES = ("CidrIpv4", "CidrIpv6", "PrefixListId", "ReferencedGroupId")


def _list_not_found(prefix_list_id: str) -> EC2ClientError:
    return EC2ClientError(
        "InvalidPrefixListID.NotFound", f"The prefix list ID '{prefix_list_id}' does not exist"
    )


def _require_list(backend: ManagedPrefixListBackend, prefix_list_id: str) -> ManagedPrefixList:
    found = backend.managed_prefix_lists.get(prefix_list_id)
    if found is None:
        raise _list_not_found(prefix_list_id)
    return found


# -- GetManagedPrefixListAssociations -------------------------------------------------------


def _associations(backend: Any, prefix_list_id: str) -> list[dict[str, str]]:
    _require_list(backend, prefix_list_id)
    found: list[dict[str, str]] = []
    for by_vpc in backend.groups.values():
        for group in by_vpc.values():
            rules = itertools.chain(group.ingress_rules, group.egress_rules)
            if any(rule.prefix_list_id == prefix_list_id for rule in rules):
                found.append({"ResourceId": group.id, "ResourceOwner": group.owner_id})
    return sorted(found, key=lambda a: a["ResourceId"])


def get_managed_prefix_list_associations(self: EC2Response) -> ActionResult:
    self.error_on_dryrun()
    prefix_list_id = self._get_param("PrefixListId")
    if not prefix_list_id:
        raise EC2ClientError(
            "MissingParameter", "The request must contain the parameter PrefixListId"
        )
    max_results = int(self._get_param("MaxResults") or 255)
    if not 5 <= max_results <= 255:
        raise InvalidParameterValue(
            f"Value ( {max_results} ) for parameter maxResults is invalid. "
            "Expecting a value between 5 and 255."
        )
    start = int(self._get_param("NextToken") or 0)
    everything = _associations(self.ec2_backend, prefix_list_id)
    page = everything[start : start + max_results]
    result: dict[str, Any] = {"PrefixListAssociations": page}
    if start + max_results < len(everything):
        result["NextToken"] = str(start + max_results)
    return ActionResult(result)


# -- ModifyManagedPrefixList ----------------------------------------------------------------


def modify_managed_prefix_list(
    self: ManagedPrefixListBackend,
    add_entry: list[dict[str, str]],
    remove_entry: list[dict[str, str]],
    *,
    prefix_list_id: str | None = None,
    current_version: str | None = None,
    prefix_list_name: str | None = None,
) -> ManagedPrefixList:
    managed = _require_list(self, prefix_list_id or "")
    if current_version is not None and int(current_version) != managed.version:
        raise EC2ClientError(
            "PrefixListVersionMismatch", "The prefix list has the incorrect version number."
        )
    name = managed.prefix_list_name
    modified = _ORIGINAL_MODIFY_LIST(
        self,
        add_entry=add_entry,
        remove_entry=remove_entry,
        prefix_list_id=prefix_list_id,
        current_version=current_version,
        prefix_list_name=prefix_list_name,
    )
    if prefix_list_name is None:
        modified.prefix_list_name = name
    return modified


# -- ModifySecurityGroupRules ---------------------------------------------------------------


def modify_security_group_rules(
    self: SecurityGroupBackend, group_id: str, rules: dict[str, dict[str, Any]]
) -> None:
    group = self.get_security_group_by_name_or_id(group_id)
    if group is None:
        raise InvalidSecurityGroupNotFoundError(group_id)
    # Check every rule first: EC2 applies all of them or none.
    changes = [
        (_existing(group, rule_id), _checked(rule_id, new)) for rule_id, new in rules.items()
    ]
    for existing, new in changes:
        _check_family(existing, new)
    for existing, new in changes:
        protocol = str(new["IpProtocol"]).lower()
        protocol = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}.get(
            protocol, protocol
        )
        existing.ip_protocol = protocol
        if protocol in _PORTED:
            existing.from_port, existing.to_port = int(new["FromPort"]), int(new["ToPort"])
        else:
            existing.from_port = existing.to_port = None
        existing.ip_range = {}
        existing.source_group = {}
        existing.prefix_list_id = None
        if new.get("CidrIpv4"):
            existing.ip_range["CidrIp"] = new["CidrIpv4"]
        elif new.get("CidrIpv6"):
            existing.ip_range["CidrIpv6"] = new["CidrIpv6"]
        elif new.get("PrefixListId"):
            existing.prefix_list_id = new["PrefixListId"]
        else:
            existing.source_group = {"GroupId": new["ReferencedGroupId"], "UserId": group.owner_id}
        if new.get("Description") is not None:
            existing.ip_range["Description"] = new["Description"]


def _existing(group: Any, rule_id: str) -> Any:
    rule = group.get_rule(rule_id)
    if rule is None:
        raise InvalidSecurityGroupRuleIdNotFoundError(rule_id)
    return rule


def _checked(rule_id: str, new: dict[str, Any]) -> dict[str, Any]:
    given = [key for key in _SOURCES if new.get(key)]
    if len(given) != 1:
        raise EC2ClientError(
            "InvalidParameterCombination" if given else "MissingParameter",
            "The request must contain exactly one of: cidrIp, cidrIpv6, prefixListId, or "
            f"referencedGroupId (rule {rule_id})",
        )
    protocol = new.get("IpProtocol")
    if protocol is None:
        raise InvalidParameterValue(
            "Invalid value 'null' for protocol. VPC security group rules must specify "
            "protocols explicitly."
        )
    if str(protocol).lower() in _PORTED and (
        new.get("FromPort") is None or new.get("ToPort") is None
    ):
        raise InvalidParameterValue(
            "Invalid value for portRange. Must specify both from and to ports with TCP/UDP."
        )
    return new


def _check_family(existing: Any, new: dict[str, Any]) -> None:
    for given, held in (("CidrIpv4", "CidrIpv6"), ("CidrIpv6", "CidrIp")):
        if new.get(given) and held in existing.ip_range:
            raise InvalidParameterValue(
                f"Invalid rule type for security group rule '{existing.id}'. You may not "
                f"specify {given} for an existing {'IPv6' if held == 'CidrIpv6' else 'IPv4'} "
                "CIDR rule."
            )


def install() -> None:
    """Add the missing parts to moto's EC2 in this process (once)."""
    if getattr(EC2Response, _INSTALLED, False):
        return
    EC2Response.get_managed_prefix_list_associations = get_managed_prefix_list_associations  # type: ignore[attr-defined]
    ManagedPrefixListBackend.modify_managed_prefix_list = modify_managed_prefix_list  # type: ignore[method-assign,assignment]
    SecurityGroupBackend.modify_security_group_rules = modify_security_group_rules  # type: ignore[method-assign]
    setattr(EC2Response, _INSTALLED, True)
