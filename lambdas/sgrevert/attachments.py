"""What a security group is attached to, from EC2 DescribeNetworkInterfaces items.

Pure: the reader passes each `NetworkInterfaces[]` item and the Name tags of the
instances they belong to; this names the resource behind each interface and sums them
up for a reviewer ("2 EC2 instances, 1 load balancer; 1 reachable from the internet").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from sgrevert.context import Attachment, AttachmentKind, Attachments

# "ELB app/web-prod/50dc6c495c0c9188" (ALB), "ELB net/..." (NLB), "ELB gwy/..." (GWLB),
# "ELB web-classic" (Classic Load Balancer).
_ELB = re.compile(r"^ELB (?:(?:app|net|gwy)/(?P<name>[^/\s]+)/\S+|(?P<classic>[^/\s]+))$")
# The function's name, without the UUID Lambda appends to the interface's description.
_LAMBDA = re.compile(
    r"^AWS Lambda VPC ENI-(?P<name>.+?)"
    r"(?:-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})?$"
)
_EKS = re.compile(r"^Amazon EKS (?P<name>\S+)")
_VPC_ENDPOINT = re.compile(r"\b(?P<id>vpce-[0-9a-f]+)\b")
_NAT_GATEWAY = re.compile(r"\b(?P<id>nat-[0-9a-f]+)\b")


def attachment(interface: Mapping[str, Any], instance_names: Mapping[str, str]) -> Attachment:
    """The resource behind one network interface. `instance_names` maps instance ids to
    their Name tag (instances without one are left out)."""
    interface_id = str(interface.get("NetworkInterfaceId") or "")
    kind, resource_id, name = _resource(interface, instance_names)
    return Attachment(
        kind=kind,
        interface_id=interface_id,
        resource_id=resource_id,
        name=name,
        public_ip=_public_ip(interface),
    )


def summarize(items: Iterable[Attachment], per_kind: int = 3, public_shown: int = 3) -> Attachments:
    """Counts by kind, a few examples of each and the few reachable from the internet.

    `total` counts network interfaces; `counts` and `public_count` count resources, so a
    load balancer with an interface in each of three zones is one load balancer (and an
    interface whose resource is unknown counts as one of its own)."""
    interfaces = list(items)
    resources: dict[tuple[AttachmentKind, str], Attachment] = {}
    for item in interfaces:
        key = (item.kind, item.resource_id or item.interface_id)
        kept = resources.get(key)
        # Keep the first interface of a resource, unless a later one is public.
        if kept is None or (kept.public_ip is None and item.public_ip is not None):
            resources[key] = item
    by_kind: dict[AttachmentKind, list[Attachment]] = {}
    for item in resources.values():
        by_kind.setdefault(item.kind, []).append(item)
    ordered = [kind for kind in AttachmentKind if kind in by_kind]  # a stable order
    public = [item for item in resources.values() if item.public_ip]
    return Attachments(
        total=len(interfaces),
        counts={kind: len(by_kind[kind]) for kind in ordered},
        examples=tuple(item for kind in ordered for item in by_kind[kind][:per_kind]),
        public_count=len(public),
        public=tuple(public[:public_shown]),
    )


def _resource(
    interface: Mapping[str, Any], instance_names: Mapping[str, str]
) -> tuple[AttachmentKind, str | None, str | None]:
    interface_type = str(interface.get("InterfaceType") or "")
    requester = str(interface.get("RequesterId") or "")
    description = str(interface.get("Description") or "")
    instance_id = _text((interface.get("Attachment") or {}).get("InstanceId"))
    # An interface a service manages may sit on an instance it also manages (a NAT
    # instance of a managed service, say): only the caller's own instances count as such.
    if instance_id and not interface.get("RequesterManaged"):
        return AttachmentKind.INSTANCE, instance_id, instance_names.get(instance_id)
    elb = _ELB.match(description)
    if "load_balancer" in interface_type or elb:
        name = (elb.group("name") or elb.group("classic")) if elb else None
        return AttachmentKind.LOAD_BALANCER, name, name
    if requester == "amazon-rds" or description == "RDSNetworkInterface":
        return AttachmentKind.RDS, None, None
    function = _LAMBDA.match(description)
    if interface_type == "lambda" or function:
        name = function.group("name") if function else None
        return AttachmentKind.LAMBDA, name, name
    cluster = _EKS.match(description)
    if cluster:
        return AttachmentKind.EKS, cluster.group("name"), cluster.group("name")
    if interface_type == "vpc_endpoint" or description.startswith("VPC Endpoint Interface"):
        endpoint = _VPC_ENDPOINT.search(description)
        return AttachmentKind.VPC_ENDPOINT, endpoint.group("id") if endpoint else None, None
    if interface_type == "nat_gateway" or description.startswith("Interface for NAT Gateway"):
        gateway = _NAT_GATEWAY.search(description)
        return AttachmentKind.NAT_GATEWAY, gateway.group("id") if gateway else None, None
    # Whatever else it is, its description is the best name a reviewer gets.
    return AttachmentKind.OTHER, instance_id, description or None


def _public_ip(interface: Mapping[str, Any]) -> str | None:
    public = _text((interface.get("Association") or {}).get("PublicIp"))
    if public:
        return public
    # IPv6 addresses in a VPC are globally routable: an interface with one is public.
    for address in interface.get("Ipv6Addresses") or []:
        ipv6 = _text(address.get("Ipv6Address")) if isinstance(address, Mapping) else None
        if ipv6:
            return ipv6
    return None


def _text(value: Any) -> str | None:
    return str(value) if value else None
