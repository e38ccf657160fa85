"""The noise-control policy: which changes are ignored, posted or reverted without a click.

Pure. The document is JSON (env `POLICY`, from the `policy` key of cdk.json), validated
once at cold start; every problem is reported together, each naming its path:

    {
      "ignore": [
        {"name": "pipeline", "actor": "arn:aws:sts::*:assumed-role/deploy-*/*",
         "reason": "CloudFormation deploys are reviewed in pull requests"},
        {"name": "vpn-ranges", "event": "ModifyManagedPrefixList", "group": "pl-0123*",
         "reason": "the VPN team owns its prefix lists"}
      ],
      "min_risk_to_post": "medium",
      "auto_revert_at_or_above": "critical",
      "max_messages_per_run": 40,
      "risk": {"critical_ports": [22, 3389], "wide_ipv4_prefix": 8, "wide_ipv6_prefix": 32},
      "owner_tag_keys": ["Name", "Owner", "Team", "Service", "Environment"],
      "lower_risk_when_unattached": false,
      "temporary_approvals": ["1h", "8h", "24h", "7d"],
      "remind": {"at_or_above": "high", "after_minutes": 30, "every_minutes": 60,
                 "times": 3, "escalate_to": ["S0SECONCALL"]},
      "deny_if_undecided_after": {"high": 240},
      "self_approval": false,
      "approvals_required": {"high": 2},
      "routes": [
        {"name": "payments", "match": {"ou": ["ou-ab12-payments"]},
         "channel": "C0PAYMENTS", "approvers": ["S0PAYLEADS", "U0ALICE"]}
      ],
      "also_to": [
        {"name": "security-sees-critical", "match": {"risk_at_or_above": "critical"},
         "channel": "C0SECURITY"}
      ]
    }

An ignore rule matches when every matcher it has matches (globs, `*` and `?`; a list
means any of them): `actor` (the caller's ARN or its session issuer), `account`,
`region`, `group` (the group id, or the list id of a prefix-list edit) and `event` (the
call's name; a pattern that matches none of the watched calls is an error). Ignored
changes are recorded as IGNORED with the rule's reason and never posted; changes below
`min_risk_to_post` are recorded PENDING (still decidable) and not posted. An ignore rule
wins over auto-revert.

`owner_tag_keys` are the security group's tags shown as its owners, in this order (an
empty list shows none); `lower_risk_when_unattached` (off by default) lowers a change on
a group attached to nothing (no network interface) by one risk level.

`temporary_approvals` are the durations offered by "Allow for…" (and "Extend…"), in
this order: at most 10, each from 15 minutes to 30 days, none twice (`60m` is `1h`); an
empty list turns "Allow for…" off.

`remind`, `deny_if_undecided_after`, `self_approval` and `approvals_required` say who
must decide a posted change, and by when (`sgrevert.review_rules`, which reads them):
reminders in its thread, a fail-closed deny when nobody decided in time, whether the
actor may approve their own change, and how many approvers a level needs. A level below
`min_risk_to_post` cannot fail closed, and none at or above `auto_revert_at_or_above`
may be named: those changes are reverted at once.

`routes` and `also_to` say which channel a change is posted to, who may decide it and
which channels get a copy (`sgrevert.routes`, which reads them): the first route that
matches wins, the deployment's channel and approvers when none does. A route's `tag`
match may name only `owner_tag_keys`: those are the tags read from the group.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any

from sgrevert.decidable import decidable
from sgrevert.durations import DEFAULT_TEMPORARY_APPROVALS, duration_words, parse_duration
from sgrevert.errors import ConfigError
from sgrevert.model import WATCHED_EVENTS, Change, Rule
from sgrevert.review_rules import ReviewRules, read_review, too_few_approvers
from sgrevert.risk import (
    DEFAULT_CRITICAL_PORTS,
    DEFAULT_WIDE_IPV4_PREFIX,
    DEFAULT_WIDE_IPV6_PREFIX,
    Assessment,
    Risk,
    RiskRules,
    assess,
)
from sgrevert.routes import Routing, read_routing

DEFAULT_MAX_MESSAGES_PER_RUN = 40
DEFAULT_OWNER_TAG_KEYS = ("Name", "Owner", "Team", "Service", "Environment")
MAX_TAG_KEY = 128  # EC2's longest tag key
MAX_TEMPORARY_APPROVALS = 10  # the options of one select: it stays short
# sgrevert's own revokes: the spoke session is named for whoever denied the change.
OWN_REVOKES = "sgrevert-own-revokes"
_OWN_SESSION = "arn:aws*:sts::*:assumed-role/*/sgrevert-denied-by-*"
_MATCHERS = ("actor", "account", "region", "group", "event")
_TOP_KEYS = frozenset(
    {
        "ignore",
        "min_risk_to_post",
        "auto_revert_at_or_above",
        "max_messages_per_run",
        "ignore_own_revokes",
        "risk",
        "owner_tag_keys",
        "lower_risk_when_unattached",
        "temporary_approvals",
        "remind",
        "deny_if_undecided_after",
        "self_approval",
        "approvals_required",
        "routes",
        "also_to",
    }
)
_RISK_KEYS = frozenset({"critical_ports", "wide_ipv4_prefix", "wide_ipv6_prefix"})


@dataclass(frozen=True)
class IgnoreRule:
    name: str
    reason: str
    actor: tuple[str, ...] = ()  # matched against the caller's ARN and its session issuer
    account: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    group: tuple[str, ...] = ()  # a group id, or a prefix list's id for its edits
    event: tuple[str, ...] = ()  # the call's CloudTrail event name

    def matches(self, change: Change) -> bool:
        actors = [a for a in (change.actor.arn, change.actor.session_issuer) if a]
        return (
            _any(self.actor, actors)
            and _any(self.account, [change.account])
            and _any(self.region, [change.region])
            and _any(self.group, [change.group_id])
            and _any(self.event, [change.event_name])
        )


OWN_REVOKES_RULE = IgnoreRule(
    name=OWN_REVOKES,
    reason="a revoke sgrevert made for a Deny",
    actor=(_OWN_SESSION,),
)


@dataclass(frozen=True)
class Verdict:
    """What the policy makes of one change."""

    assessment: Assessment
    ignored_by: IgnoreRule | None = None
    post: bool = True
    auto_revert_rule: str | None = None  # the rule, when the change is reverted without a click

    @property
    def risk(self) -> Risk:
        return self.assessment.risk

    @property
    def note(self) -> str | None:
        """Why the change is handled differently from a plain post, for the record."""
        if self.ignored_by is not None:
            return f"ignored by {self.ignored_by.name}: {self.ignored_by.reason}"
        if self.auto_revert_rule is not None:
            return f"reverted by policy {self.auto_revert_rule}: {self.assessment.reason}"
        if not self.post:
            return f"not posted: {self.risk.label} is below min_risk_to_post"
        return None


@dataclass(frozen=True)
class Policy:
    ignore: tuple[IgnoreRule, ...] = ()
    min_risk_to_post: Risk = Risk.LOW  # LOW: post everything
    auto_revert_at_or_above: Risk | None = None  # None: never revert without a click
    max_messages_per_run: int = DEFAULT_MAX_MESSAGES_PER_RUN
    ignore_own_revokes: bool = True
    risk_rules: RiskRules = field(default_factory=RiskRules)
    owner_tag_keys: tuple[str, ...] = DEFAULT_OWNER_TAG_KEYS  # the group's tags shown as owners
    lower_risk_when_unattached: bool = False  # True: one level lower on a group attached to none
    # The durations "Allow for…" offers, in order; empty: no approvals for a while.
    temporary_approvals: tuple[timedelta, ...] = DEFAULT_TEMPORARY_APPROVALS
    # Reminders, fail-closed deadlines, self-approval and two-person rules.
    review: ReviewRules = field(default_factory=ReviewRules)
    # Each change's channel, approvers and copies; none: the deployment's channel and approvers.
    routing: Routing = field(default_factory=Routing)

    @property
    def auto_revert_rule(self) -> str | None:
        if self.auto_revert_at_or_above is None:
            return None
        return f"auto_revert_at_or_above={self.auto_revert_at_or_above.label}"

    def judge(self, change: Change, references: Iterable[Rule] | None = None) -> Verdict:
        """What to do with `change`. A prefix-list edit is rated with the rules that
        reference the list when they are known, and at worst (None) otherwise, as it is
        when recorded: nothing has been read then."""
        assessment = assess(change, self.risk_rules, references)
        rules = ((OWN_REVOKES_RULE,) if self.ignore_own_revokes else ()) + self.ignore
        for rule in rules:
            if rule.matches(change):
                return Verdict(assessment, ignored_by=rule, post=False)
        if (
            self.auto_revert_at_or_above is not None
            and decidable(change)
            and assessment.risk >= self.auto_revert_at_or_above
        ):
            return Verdict(assessment, auto_revert_rule=self.auto_revert_rule)
        return Verdict(assessment, post=assessment.risk >= self.min_risk_to_post)


def parse_policy(text: str | None, where: str = "POLICY") -> Policy:
    """The policy in `text` (JSON); empty means the defaults. ConfigError lists every problem."""
    if text is None or not text.strip():
        return Policy()
    try:
        document = json.loads(text)
    except ValueError as error:
        raise ConfigError(f"{where} is not valid JSON: {error}") from None
    return policy_from_document(document, where)


def policy_from_document(document: Any, where: str = "POLICY") -> Policy:
    reader = _Reader(where)
    policy = reader.policy(document)
    if reader.errors:
        raise ConfigError(f"{where} is invalid: " + "; ".join(reader.errors))
    return policy


class _Reader:
    def __init__(self, where: str) -> None:
        self.where = where
        self.errors: list[str] = []

    def policy(self, document: Any) -> Policy:
        if not isinstance(document, Mapping):
            self.errors.append("it must be a JSON object")
            return Policy()
        self._unknown(document, _TOP_KEYS, "")
        defaults = Policy()
        min_risk = self._risk(document, "min_risk_to_post") or defaults.min_risk_to_post
        auto = self._risk(document, "auto_revert_at_or_above")
        owner_tag_keys = self._tag_keys(document, "owner_tag_keys", defaults.owner_tag_keys)
        review = read_review(
            document, self.errors, min_risk_to_post=min_risk, auto_revert_at_or_above=auto
        )
        return Policy(
            ignore=self._ignore_rules(document.get("ignore", [])),
            min_risk_to_post=min_risk,
            auto_revert_at_or_above=auto,
            max_messages_per_run=self._int(
                document, "max_messages_per_run", DEFAULT_MAX_MESSAGES_PER_RUN, 1, 1000
            ),
            ignore_own_revokes=self._flag(
                document, "ignore_own_revokes", defaults.ignore_own_revokes
            ),
            risk_rules=self._risk_rules(document.get("risk", {})),
            owner_tag_keys=owner_tag_keys,
            lower_risk_when_unattached=self._flag(
                document, "lower_risk_when_unattached", defaults.lower_risk_when_unattached
            ),
            temporary_approvals=self._durations(
                document, "temporary_approvals", defaults.temporary_approvals
            ),
            review=review,
            routing=self._routing(document, owner_tag_keys, review),
        )

    def _routing(
        self, document: Mapping[str, Any], owner_tag_keys: tuple[str, ...], review: ReviewRules
    ) -> Routing:
        """The routes, each with enough approvers for the approvals its changes need."""
        routing = read_routing(document, self.errors, owner_tag_keys=owner_tag_keys)
        for index, route in enumerate(routing.routes):
            lowest = route.match.risk_at_or_above
            problem = too_few_approvers(review, route.approvers, lowest)
            if problem:
                self.errors.append(f"routes[{index}] ({route.name}).approvers {problem}")
        return routing

    def _flag(self, document: Mapping[str, Any], key: str, default: bool) -> bool:
        value = document.get(key, default)
        if not isinstance(value, bool):
            self.errors.append(f"{key} must be true or false, not {value!r}")
            return default
        return value

    def _tag_keys(
        self, document: Mapping[str, Any], key: str, default: tuple[str, ...]
    ) -> tuple[str, ...]:
        value = document.get(key, list(default))
        if not isinstance(value, list):
            self.errors.append(f"{key} must be a list of tag keys, not {value!r}")
            return default
        keys: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.errors.append(f"{key}[{index}] must be a tag key (a string), not {item!r}")
            elif len(item) > MAX_TAG_KEY:
                self.errors.append(
                    f"{key}[{index}] is {len(item)} characters long: a tag key has at most "
                    f"{MAX_TAG_KEY}"
                )
            elif item in keys:
                self.errors.append(f"{key}[{index}] {item!r} is listed twice")
            else:
                keys.append(item)
        return tuple(keys)

    def _durations(
        self, document: Mapping[str, Any], key: str, default: tuple[timedelta, ...]
    ) -> tuple[timedelta, ...]:
        if key not in document:
            return default
        value = document[key]
        if not isinstance(value, list):
            self.errors.append(
                f'{key} must be a list of durations such as "1h" or "7d", not {value!r}'
            )
            return default
        if len(value) > MAX_TEMPORARY_APPROVALS:
            self.errors.append(
                f"{key} lists {len(value)} durations: at most {MAX_TEMPORARY_APPROVALS}"
            )
        durations: list[timedelta] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.errors.append(
                    f'{key}[{index}] must be a duration such as "1h" (a string), not {item!r}'
                )
                continue
            try:
                duration = parse_duration(item)
            except ValueError as error:
                self.errors.append(f"{key}[{index}] {error}")
                continue
            if duration in durations:
                self.errors.append(
                    f"{key}[{index}] {item!r} is {duration_words(duration)}, listed twice"
                )
            else:
                durations.append(duration)
        return tuple(durations)

    def _unknown(self, document: Mapping[str, Any], known: frozenset[str], path: str) -> None:
        for key in sorted(set(document) - known):
            self.errors.append(f"{path}{key} is not a policy key ({', '.join(sorted(known))})")

    def _risk(self, document: Mapping[str, Any], key: str) -> Risk | None:
        value = document.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.errors.append(f"{key} must be a risk level (low, medium, high, critical)")
            return None
        try:
            return Risk.parse(value)
        except ValueError as error:
            self.errors.append(f"{key}: {error}")
            return None

    def _int(self, document: Mapping[str, Any], key: str, default: int, low: int, high: int) -> int:
        value = document.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.errors.append(f"{key} must be a whole number from {low} to {high}, not {value!r}")
            return default
        return value

    def _ignore_rules(self, rules: Any) -> tuple[IgnoreRule, ...]:
        if not isinstance(rules, list):
            self.errors.append("ignore must be a list of rules")
            return ()
        parsed: list[IgnoreRule] = []
        names: set[str] = set()
        for index, rule in enumerate(rules):
            path = f"ignore[{index}]"
            if not isinstance(rule, Mapping):
                self.errors.append(f"{path} must be an object")
                continue
            self._unknown(rule, frozenset({"name", *_MATCHERS, "reason"}), f"{path}.")
            name = rule.get("name", path)
            reason = rule.get("reason")
            if not isinstance(name, str) or not name.strip():
                self.errors.append(f"{path}.name must be a non-empty string")
                name = path
            if name in names:
                self.errors.append(f"{path}.name {name!r} is used twice")
            names.add(name)
            if not isinstance(reason, str) or not reason.strip():
                self.errors.append(f"{path}.reason is required: say why these changes are ignored")
                reason = ""
            matchers = {key: self._patterns(rule.get(key), f"{path}.{key}") for key in _MATCHERS}
            self._watched(matchers["event"], f"{path}.event")
            if not any(matchers.values()):
                self.errors.append(
                    f"{path} needs at least one of {', '.join(_MATCHERS)} "
                    "(a rule without one would ignore everything)"
                )
            parsed.append(IgnoreRule(name=name.strip(), reason=reason.strip(), **matchers))
        return tuple(parsed)

    def _patterns(self, value: Any, path: str) -> tuple[str, ...]:
        if value is None:
            return ()
        values = [value] if isinstance(value, str) else value
        if (
            not isinstance(values, list)
            or not values
            or not all(isinstance(v, str) and v.strip() for v in values)
        ):
            self.errors.append(f"{path} must be a pattern or a non-empty list of patterns")
            return ()
        return tuple(v.strip() for v in values)

    def _watched(self, patterns: tuple[str, ...], path: str) -> None:
        """An event pattern that can never match is a typo: say which names it could be."""
        for pattern in patterns:
            if not any(fnmatchcase(name, pattern) for name in WATCHED_EVENTS):
                self.errors.append(
                    f"{path} {pattern!r} matches no watched event "
                    f"({', '.join(sorted(WATCHED_EVENTS))})"
                )

    def _risk_rules(self, value: Any) -> RiskRules:
        if not isinstance(value, Mapping):
            self.errors.append("risk must be an object")
            return RiskRules()
        self._unknown(value, _RISK_KEYS, "risk.")
        ports = value.get("critical_ports", list(DEFAULT_CRITICAL_PORTS))
        if not isinstance(ports, list) or not all(
            isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 65535 for p in ports
        ):
            self.errors.append("risk.critical_ports must be a list of ports (0-65535)")
            ports = list(DEFAULT_CRITICAL_PORTS)
        return RiskRules(
            critical_ports=frozenset(ports),
            wide_ipv4_prefix=self._int(value, "wide_ipv4_prefix", DEFAULT_WIDE_IPV4_PREFIX, 1, 32),
            wide_ipv6_prefix=self._int(value, "wide_ipv6_prefix", DEFAULT_WIDE_IPV6_PREFIX, 1, 128),
        )


def _any(patterns: tuple[str, ...], values: list[str]) -> bool:
    """No patterns: no constraint. Otherwise some value matches some pattern."""
    if not patterns:
        return True
    return any(fnmatchcase(value, pattern) for pattern in patterns for value in values)
