"""CloudTrail, for the sandbox: the record each real EC2 security-group call would produce.

`Trail.ec2(session, region)` returns an ordinary boto3 EC2 client whose calls go to moto
unchanged; botocore event hooks watch the security-group calls made through it and
turn each one, from the real request parameters, User-Agent and parsed response (rule
ids included), into the record CloudTrail would deliver:

- `requestParameters` in CloudTrail's EC2 shape: lower-camel keys, lists as
  `{"items": [...]}`, empty lists as `{}` (`ipPermissions.items[].ipRanges.items[].cidrIp`);
- `responseElements` with `_return` and `securityGroupRuleSet.items[]` (`securityGroupRuleId`,
  `groupOwnerId`, `isEgress`, `cidrIpv4`...), or `null` with `errorCode` `Client.<code>`
  for a failed call;
- `userIdentity` of the caller (an assumed-role session, with its session issuer),
  `recipientAccountId` the caller's account (which owns the group or prefix list it
  changed), a fresh `eventID`, `eventTime` now.

The newer query-style calls, ModifySecurityGroupRules and ModifyManagedPrefixList, are
written as CloudTrail writes those: the request wrapped in `<Action>Request` with the
API's own capitalised names, each list under its wire name (`SecurityGroupRule`,
`AddEntry`, `RemoveEntry`) as one object when it has one member and a list otherwise,
every member numbered by `tag` from 1; the response wrapped in `<Action>Response` with
`xmlns` and `requestId` (`return`, or the `prefixList` as the call's answer describes it:
moto says `modify-complete` and the new version where EC2 says `modify-in-progress` and
the version the call named; sgrevert reads the version from the request).
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import boto3

MODIFY_RULES = "ModifySecurityGroupRules"
MODIFY_PREFIX_LIST = "ModifyManagedPrefixList"
QUERY_STYLE_OPERATIONS = (MODIFY_RULES, MODIFY_PREFIX_LIST)
WATCHED_OPERATIONS = (
    "AuthorizeSecurityGroupIngress",
    "AuthorizeSecurityGroupEgress",
    "RevokeSecurityGroupIngress",
    "RevokeSecurityGroupEgress",
    *QUERY_STYLE_OPERATIONS,
)
EC2_XMLNS = "http://ec2.amazonaws.com/doc/2016-11-15/"
# The prefix list as CloudTrail's ModifyManagedPrefixList response carries it.
_PREFIX_LIST_FIELDS = (
    "PrefixListId",
    "AddressFamily",
    "State",
    "PrefixListArn",
    "PrefixListName",
    "MaxEntries",
    "Version",
    "OwnerId",
)
DEFAULT_SOURCE_IP = "198.51.100.24"  # TEST-NET-2: where the people making changes sit
_PARAMS = "sandbox_trail_params"
_USER_AGENT = "sandbox_trail_user_agent"

# EC2 Query names that are not simply the lower-camel form of the boto3 parameter.
_RENAMED = {"UserIdGroupPairs": "groups", "SecurityGroupRuleIds": "securityGroupRuleIds"}
_LEGACY = ("ipProtocol", "cidrIp", "sourceSecurityGroupName", "sourceSecurityGroupOwnerId")
_PERMISSION_SETS = ("groups", "ipRanges", "ipv6Ranges", "prefixListIds")
# List members that are bare strings on the wire but objects in CloudTrail.
_STRING_ITEMS = {"SecurityGroupRuleIds": "securityGroupRuleId"}


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _request_value(name: str, value: Any) -> Any:
    if isinstance(value, Mapping):
        return {_RENAMED.get(k, _camel(k)): _request_value(k, v) for k, v in value.items()}
    if isinstance(value, list):
        if not value:
            return {}  # CloudTrail writes an empty set as {}
        if name in _STRING_ITEMS:
            return {"items": [{_STRING_ITEMS[name]: item} for item in value]}
        return {"items": [_request_value(name, item) for item in value]}
    return value


def request_parameters(params: Mapping[str, Any]) -> dict[str, Any]:
    """boto3 keyword arguments -> CloudTrail `requestParameters` for an EC2 call."""
    shaped = _request_value("", {k: v for k, v in params.items() if k != "DryRun"})
    assert isinstance(shaped, dict)
    if "ipPermissions" not in shaped and any(k in shaped for k in _LEGACY):
        shaped["ipPermissions"] = {}  # EC2 logs the (empty) permission set beside legacy ones
    permissions = shaped.get("ipPermissions")
    if isinstance(permissions, dict):
        for item in permissions.get("items", []):
            # EC2 logs every source set of a permission, the unused ones as {}.
            for key in _PERMISSION_SETS:
                item.setdefault(key, {})
    return shaped


def _query_value(shape: Any, value: Any) -> Any:
    """A boto3 value -> the query-style request form, guided by its botocore shape."""
    if shape.type_name == "structure" and isinstance(value, Mapping):
        shaped: dict[str, Any] = {}
        for name, item in value.items():
            member = shape.members[name]
            shaped[member.serialization.get("name", name)] = _query_value(member, item)
        return shaped
    if shape.type_name == "list" and isinstance(value, list):
        items = [_query_value(shape.member, item) for item in value]
        if shape.member.type_name == "structure":
            # EC2 numbers the members of a query list; CloudTrail keeps the number as `tag`.
            items = [{**item, "tag": index} for index, item in enumerate(items, start=1)]
        return items[0] if len(items) == 1 else items
    return value


def query_request_parameters(
    operation: str, input_shape: Any, params: Mapping[str, Any]
) -> dict[str, Any]:
    """boto3 keyword arguments -> CloudTrail `requestParameters` for a query-style EC2
    call (ModifySecurityGroupRules, ModifyManagedPrefixList)."""
    kept = {k: v for k, v in params.items() if k != "DryRun"}
    return {f"{operation}Request": _query_value(input_shape, kept)}


def query_response_elements(
    operation: str, parsed: Mapping[str, Any], request_id: str
) -> dict[str, Any]:
    """A parsed query-style response -> CloudTrail `responseElements`."""
    answer: dict[str, Any] = {"xmlns": EC2_XMLNS, "requestId": request_id}
    if "Return" in parsed:
        answer["return"] = bool(parsed["Return"])
    described = parsed.get("PrefixList")
    if described:
        answer["prefixList"] = {
            _camel(key): described[key] for key in _PREFIX_LIST_FIELDS if key in described
        }
    return {f"{operation}Response": answer}


def _rule_element(rule: Mapping[str, Any], owner: str) -> dict[str, Any]:
    element: dict[str, Any] = {
        "groupOwnerId": owner,
        "groupId": rule["GroupId"],
        "securityGroupRuleId": rule["SecurityGroupRuleId"],
        "isEgress": bool(rule.get("IsEgress", False)),
        "ipProtocol": rule.get("IpProtocol", "-1"),
        # EC2 reports -1 for the ports of an all-traffic rule; moto leaves them out.
        "fromPort": rule.get("FromPort", -1),
        "toPort": rule.get("ToPort", -1),
    }
    for key in ("CidrIpv4", "CidrIpv6", "PrefixListId", "Description"):
        if rule.get(key):
            element[_camel(key)] = rule[key]
    referenced = rule.get("ReferencedGroupInfo")
    if referenced:
        element["referencedGroupInfo"] = {_camel(k): v for k, v in referenced.items()}
    return element


def response_elements(parsed: Mapping[str, Any], owner: str, request_id: str) -> dict[str, Any]:
    """A parsed Authorize*/Revoke* response -> CloudTrail `responseElements`."""
    elements: dict[str, Any] = {"requestId": request_id, "_return": bool(parsed.get("Return"))}
    added = parsed.get("SecurityGroupRules")
    if added:
        elements["securityGroupRuleSet"] = {"items": [_rule_element(r, owner) for r in added]}
    revoked = parsed.get("RevokedSecurityGroupRules")
    if revoked:
        elements["revokedSecurityGroupRuleSet"] = {
            "items": [_rule_element(r, owner) for r in revoked]
        }
    unknown = parsed.get("UnknownIpPermissions")
    if unknown:
        elements["unknownIpPermissionSet"] = request_parameters({"x": unknown})["x"]
    return elements


def user_identity(session: boto3.Session, endpoint_url: str | None) -> dict[str, Any]:
    """CloudTrail's `userIdentity` for whoever signs with `session`."""
    caller = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()
    arn, account, principal = caller["Arn"], caller["Account"], caller["UserId"]
    credentials = session.get_credentials()
    access_key = credentials.access_key if credentials else None
    identity: dict[str, Any] = {"principalId": principal, "arn": arn, "accountId": account}
    if access_key:
        identity["accessKeyId"] = access_key
    if ":assumed-role/" in arn:
        role_name = arn.split(":assumed-role/", 1)[1].split("/", 1)[0]
        identity["type"] = "AssumedRole"
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": principal.split(":", 1)[0],
                "arn": f"arn:aws:iam::{account}:role/{role_name}",
                "accountId": account,
                "userName": role_name,
            },
            "attributes": {
                "creationDate": _now_text(),
                "mfaAuthenticated": "false",
            },
        }
    elif arn.endswith(":root"):
        identity["type"] = "Root"
    else:
        identity["type"] = "IAMUser"
        identity["userName"] = arn.rsplit("/", 1)[-1]
    return identity


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Trail:
    """Collects the CloudTrail records of security-group calls made through its clients."""

    def __init__(self, endpoint_url: str | None = None, source_ip: str = DEFAULT_SOURCE_IP) -> None:
        self._endpoint_url = endpoint_url
        self._source_ip = source_ip
        self._lock = threading.Lock()
        self._records: list[dict[str, Any]] = []

    @property
    def records(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._records)

    def drain(self) -> list[dict[str, Any]]:
        """The records collected so far, forgetting them (to deliver each batch once)."""
        with self._lock:
            records, self._records = self._records, []
        return records

    def ec2(self, session: boto3.Session, region: str | None = None) -> Any:
        """An EC2 client for `session` whose security-group calls are recorded."""
        region = region or session.region_name
        client = session.client("ec2", region_name=region, endpoint_url=self._endpoint_url)
        identity = user_identity(session, self._endpoint_url)
        events = client.meta.events
        for operation in WATCHED_OPERATIONS:
            events.register(f"before-parameter-build.ec2.{operation}", _keep_params)
            events.register(f"before-call.ec2.{operation}", _keep_user_agent)
            events.register(
                f"after-call.ec2.{operation}",
                self._recorder(identity, str(region)),
            )
        return client

    def _recorder(self, identity: dict[str, Any], region: str) -> Any:
        def record(
            http_response: Any,
            parsed: dict[str, Any],
            model: Any,
            context: dict[str, Any],
            **_: Any,
        ) -> None:
            self._add(identity, region, model, context, parsed)

        return record

    def _add(
        self,
        identity: dict[str, Any],
        region: str,
        model: Any,
        context: Mapping[str, Any],
        parsed: Mapping[str, Any],
    ) -> None:
        operation: str = model.name
        query_style = operation in QUERY_STYLE_OPERATIONS
        params = context.get(_PARAMS, {})
        account = identity["accountId"]
        metadata = parsed.get("ResponseMetadata", {})
        request_id = str(
            metadata.get("HTTPHeaders", {}).get("x-amzn-requestid")
            or metadata.get("RequestId")
            or uuid.uuid4()
        )
        record: dict[str, Any] = {
            "eventVersion": "1.10",
            "userIdentity": identity,
            "eventTime": _now_text(),
            "eventSource": "ec2.amazonaws.com",
            "eventName": operation,
            "awsRegion": region,
            "sourceIPAddress": self._source_ip,
            "userAgent": context.get(_USER_AGENT, "aws-sdk"),
            "requestParameters": (
                query_request_parameters(operation, model.input_shape, params)
                if query_style
                else request_parameters(params)
            ),
        }
        error = parsed.get("Error")
        if error:
            record["errorCode"] = f"Client.{error.get('Code', 'Unknown')}"
            record["errorMessage"] = str(error.get("Message", ""))
            record["responseElements"] = None
        elif query_style:
            record["responseElements"] = query_response_elements(operation, parsed, request_id)
        else:
            record["responseElements"] = response_elements(parsed, account, request_id)
        record.update(
            {
                "requestID": request_id,
                "eventID": str(uuid.uuid4()),
                "readOnly": False,
                "eventType": "AwsApiCall",
                "managementEvent": True,
                "recipientAccountId": account,
                "eventCategory": "Management",
                "tlsDetails": {
                    "tlsVersion": "TLSv1.3",
                    "cipherSuite": "TLS_AES_128_GCM_SHA256",
                    "clientProvidedHostHeader": f"ec2.{region}.amazonaws.com",
                },
            }
        )
        with self._lock:
            self._records.append(record)


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    context[_PARAMS] = copy.deepcopy(params)


def _keep_user_agent(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    headers = params.get("headers") or {}
    user_agent = headers.get("User-Agent")
    if user_agent:
        context[_USER_AGENT] = user_agent
