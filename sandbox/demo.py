"""`make demo`: sgrevert's whole loop on this machine, no AWS account, no Slack workspace.

The story: an organization with two member accounts; people change security groups
there (one opens SSH to the world on a group in front of an instance with a public IP,
another opens RDP on a group attached to nothing, a third adds SSH from the bastion
subnets); CloudTrail records the calls in Lake; the detector reads each change's context
(the account's name, what the group is attached to, who the actor is in Slack) and posts
it to Slack; an approver approves two, another denies the risky one; the responder
reverts exactly the denied rules through the hub and spoke roles. Later someone widens
the approved bastion rule in place to 0.0.0.0/0 (ModifySecurityGroupRules) and someone
adds 0.0.0.0/0 to the offices' prefix list that two groups' rules reference
(ModifyManagedPrefixList); the detector posts the rule as before -> after and the list
with the groups it opens; both are denied; the responder restores the rule to its
recorded value and removes exactly the added entry. Last, the third choice: erin opens SSH
to the world again, "for an hour, to debug"; the change is critical, and the demo's
policy (`POLICY`) wants two approvers for those: alice picks Allow for… 1 h (approved 1 of
2; her second click is refused, privately), bob approves, and it is allowed for the hour.
The sandbox's clock is then moved ahead (not waited for): 30 minutes on, the undecided
changes' reminder schedules fire and the RDP change, still undecided, is reminded about in
its thread, mentioning the on-call user group; 55 minutes on, the approval's reminder
fires; past the deadline, the expiry's schedule fires and the responder reverts the rule
as the approval expiring, the thread holding every step.

Every step talks over HTTP to real boto3/slack_sdk clients and the real handlers.
Exits 0 when the story ends as it should; otherwise 1, naming the step and why.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox.org import BASTION_SSH, Group, PrefixList, RuleView
from sandbox.render import Renderer, message_texts
from sandbox.servers import ALICE, BOB, CAROL, DAVE, ERIN, FRANK, MALLORY, USERS, Developer, Sandbox
from sgrevert.context import AttachmentKind, Attachments, ChangeContext
from sgrevert.model import State, Step

DEFAULT_LOG = Path(tempfile.gettempdir()) / "sgrevert-demo" / "handlers.log"
ON_CALL = "S0SECONCALL"  # the security on-call's Slack user group, mentioned in reminders
ON_CALL_HANDLE = "security-oncall"  # as Slack shows the group's mention
REMIND_AFTER = timedelta(minutes=30)
# The review rules the story shows (the other keys keep their defaults): an undecided high
# or critical change is reminded about once, 30 minutes after its post; a critical change
# needs two approvers.
POLICY: dict[str, Any] = {
    "remind": {
        "at_or_above": "high",
        "after_minutes": round(REMIND_AFTER.total_seconds() / 60),
        "escalate_to": [ON_CALL],
    },
    "approvals_required": {"critical": 2},
}


class StepFailed(Exception):
    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass(frozen=True)
class Call:
    """One change a person makes, and the event id CloudTrail gives it."""

    label: str
    group: str  # the group's key; a prefix-list change: a group in the list's account
    who: Developer
    event_id: str
    rule_ids: tuple[str, ...]  # the rules it added or modified


@dataclass(frozen=True)
class ForAnHour:
    """The change allowed for an hour: when its reminder and its expiry fired, and the
    approver the expiry names."""

    call: Call
    reminded: datetime
    expired: datetime
    approver: str


class Demo:
    def __init__(self, out: Renderer, log_path: Path) -> None:
        self.r = out
        self.log_path = log_path
        self.started = time.monotonic()

    # -- output helpers ----------------------------------------------------------------------

    def section(self, title: str) -> None:
        elapsed = time.monotonic() - self.started
        print()
        print(self.r.style("header", f"== {title}") + self.r.style("dim", f"  [{elapsed:4.1f}s]"))

    def line(self, text: str = "", indent: int = 2) -> None:
        print(" " * indent + text)

    def ok(self, text: str) -> None:
        self.line(self.r.style("primary", "✓ ") + text)

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        try:
            yield
        except StepFailed:
            raise
        except Exception as error:  # any failure ends the story with the step's name
            raise StepFailed(name, f"{type(error).__name__}: {error}") from error

    def expect(self, step: str, condition: bool, reason: str) -> None:
        if not condition:
            raise StepFailed(step, reason)

    # -- the story ---------------------------------------------------------------------------

    def run(self) -> None:
        self.section("Starting the sandbox")
        with contextlib.ExitStack() as stack:  # on the way out: every server stopped
            with self.step("start the sandbox"):
                # Powertools prints metrics to stdout: the terminal is the story's.
                box = Sandbox(log_path=self.log_path, policy=POLICY, emit_metrics=False)
                stack.enter_context(box)
            with self.step("tell the story"):  # a failure outside a named step
                self._run(box)

    def _run(self, box: Sandbox) -> None:
        org = box.org
        self.line(f"moto (AWS APIs)        {box.moto_url}")
        self.line(f"CloudTrail Lake        {box.lake.endpoint_url}")
        self.line(f"Slack Web API          {box.slack.api_url}")
        self.line(f"Lambda Invoke          {box.lambdas.endpoint_url}")
        self.line(f"API Gateway (Slack's Request URL)  {box.gateway.url}")

        self.section("The organization")
        self.line(f"{org.organization_id}, management account {org.management}")
        for account, role in (
            (
                org.management,
                "Lake event data store; read roles sgrevert-lake-read, sgrevert-org-read",
            ),
            (org.security, "sgrevert: table, Slack secret, revertsg-1/2, hub role sgrevert-hub"),
            (
                org.members["member-a"],
                "spoke-001; VPC with security groups 'web', 'batch'; prefix list 'corp-offices'",
            ),
            (org.members["member-b"], "spoke-001; VPC with security group 'db'"),
        ):
            self.line(f"{org.name_of(account):<11} {account}  {self.r.style('dim', role)}")
        self.line("security groups, and what they are attached to:")
        for group in org.groups.values():
            where = f"{org.name_of(group.account)} / {group.region}"
            self.line(f"{group.key:<6} {group.group_id}  {where:<20} {_attached(group)}", indent=4)
        self.line("customer-managed prefix lists, and the rules that reference them:")
        for listed in org.prefix_lists.values():
            where = f"{org.name_of(listed.account)} / {listed.region}"
            self.line(f"{listed.name} {listed.list_id}  {where}", indent=4)
            self.line(
                "entries "
                + ", ".join(f"{cidr} ({about})" for cidr, about in listed.entries)
                + "; referenced by "
                + ", ".join(f"{key} (tcp {port})" for key, port in listed.referenced_by.items()),
                indent=6,
            )

        web, db, batch = org.groups["web"], org.groups["db"], org.groups["batch"]
        self.section("Changes in the member accounts (real EC2 calls to moto)")
        calls = self._make_changes(box)
        for call in calls:
            self.line(f"{call.who.email:<22} {call.label}")
            self.line(self.r.style("dim", f"rule ids {', '.join(call.rule_ids)}"), indent=25)
        before = {key: box.rules(key) for key in org.groups}

        with self.step("deliver CloudTrail records to Lake"):
            delivered = box.deliver_trail()
        self.ok(
            f"{delivered} CloudTrail records (built from the requests and responses) "
            f"delivered to the event data store"
        )

        self.section("revertsg-1 runs (scheduled): Lake -> DynamoDB -> Slack")
        with self.step("run the detector"):
            report = box.run_detector()
        self.line(f"window {report['window_start']} .. {report['window_end']}")
        self.ok(
            f"{report['rows']} rows from Lake, {report['recorded']} changes recorded, "
            f"{report['posted']} posted to Slack"
        )
        self.expect(
            "run the detector",
            report["recorded"] == len(calls) and report["posted"] == len(calls),
            f"expected {len(calls)} changes recorded and posted, got {report}",
        )

        with self.step("read the changes' context"):
            context = self._check_context(box, calls)

        self.section(f"Slack #security-changes ({box.channel})")
        for call in calls:
            with self.step(f"read the Slack message for {call.label}"):
                posted = box.posted(call.event_id).message
            self._show_message(posted.blocks, posted.text)

        risky, benign, bastion, egress, unused = calls
        self.section("Decisions (signed Slack clicks -> API Gateway -> revertsg-2)")
        self._click(box, benign, "approve", BOB, "approves")
        self._click(box, bastion, "approve", BOB, "approves")
        self._click(box, risky, "deny", ALICE, "denies")
        self._click(box, egress, "approve", MALLORY, "tries to approve")
        with self.step("tell mallory she may not decide"):
            told = [e for e in box.slack.ephemerals if e.user == MALLORY.id]
            self.expect("tell mallory she may not decide", bool(told), "no ephemeral reply")
        self.line(
            self.r.style("dim", "only mallory sees: ") + self.r.mrkdwn(told[-1].text or ""), 4
        )

        with self.step("wait for the asynchronous revert"):
            box.wait_for_reverts()
        reverts = [i for i in box.lambdas.invocations if i.invocation_type == "Event"]
        self.ok(f"the async revert ran ({len(reverts)} Event invocation of revertsg-2)")

        self.section("Slack after the decisions (chat.update)")
        expected = {
            risky.event_id: State.REVERTED,
            benign.event_id: State.APPROVED,
            bastion.event_id: State.APPROVED,
            egress.event_id: State.PENDING,
            unused.event_id: State.PENDING,
        }
        for call in calls:
            with self.step(f"check the outcome of {call.label}"):
                record = box.record(call.event_id)
                posted = box.posted(call.event_id).message
            self.expect(
                f"check the outcome of {call.label}",
                record.state is expected[call.event_id],
                f"state is {record.state.value}, expected {expected[call.event_id].value}"
                + (f" ({record.outcome})" if record.outcome else ""),
            )
            if call is risky:
                # The rules and the outcome: what changed in the message.
                blocks = posted.blocks or []
                dividers = [i for i, b in enumerate(blocks) if b.get("type") == "divider"]
                self.line(f"{self.r.style('bold', call.label)}:")
                self._show_message(blocks[dividers[-1] + 1 :] if dividers else blocks, posted.text)
            else:
                self.line(
                    f"{self.r.style('bold', call.label)}: " + self.r.mrkdwn(posted.text or "")
                )

        self.section("Security group rules, before and after")
        after = {key: box.rules(key) for key in org.groups}
        revoked = set(risky.rule_ids)
        notes = {
            **{rule_id: "new, approved" for rule_id in (*benign.rule_ids, *bastion.rule_ids)},
            **{rule_id: "new, undecided" for rule_id in (*egress.rule_ids, *unused.rule_ids)},
        }
        for key, group in (("web", web), ("db", db), ("batch", batch)):
            self.line(
                self.r.style(
                    "bold",
                    f"{key} ({group.group_id}) in {org.name_of(group.account)}"
                    f" {group.account} / {group.region}",
                )
            )
            self._show_rules(before[key], after[key], notes)
        with self.step("compare the rules"):
            self._check_rules(before, after, revoked)

        widened, opened = self._widen(box, bastion)
        # Every change is made by now: the trail stamps real time, so the clock moves last.
        call = self._two_approvers(box)
        started = box.clock()
        nudged = self._remind_undecided(box, unused, [risky, widened, opened, call])
        debug = self._for_an_hour(box, call)
        moved = box.clock() - started

        elapsed = time.monotonic() - self.started
        self.section("Summary")
        self.ok(f"{len(calls)} changes detected in 2 member accounts and posted to Slack")
        self.ok(context[0])
        for fact in context[1:]:
            self.line(fact, indent=6)
        self.ok(f"approved by bob: {benign.label}; {bastion.label} (their rules stay)")
        self.ok(
            f"denied by alice: {risky.label}: {len(risky.rule_ids)} rules revoked in "
            f"member-a {web.account} / {web.region} through sgrevert-hub -> spoke-001"
        )
        self.ok(f"undecided: {egress.label} (allowed unless denied; mallory may not decide)")
        self.ok(
            f"undecided: {unused.label} (attached to nothing, so no effect yet); reminded "
            f"about in its thread at {_hhmm(nudged)}, {_minutes(REMIND_AFTER)} after its "
            f"post, mentioning the user group {ON_CALL}"
        )
        self.ok(
            f"denied by alice: {widened.label}: rule {bastion.rule_ids[0]} restored to "
            f"{_BASTION_CIDR} by its id (ModifySecurityGroupRules)"
        )
        offices = box.org.prefix_lists["offices"]
        self.ok(
            f"denied by bob: {opened.label}: 0.0.0.0/0 removed from {offices.name}, "
            f"the office CIDRs kept (ModifyManagedPrefixList)"
        )
        approver = USERS.get(debug.approver, debug.approver)
        self.ok(
            f"allowed for 1 h by alice and bob: {debug.call.label}: critical, so two "
            "approvers: alice's Allow for… 1 h counted 1 of 2 (her second click refused, "
            "privately), bob's Approve made it APPROVED for her hour"
        )
        self.line(
            f"{approver} (and erin) reminded in the thread at {_hhmm(debug.reminded)}, "
            f"reverted at {_hhmm(debug.expired)} by the expiry's schedule as "
            f"expiry:{approver}; the clock moved {_minutes(moved)} ahead, not waited for",
            indent=6,
        )
        self.ok("every other rule and entry untouched")
        self.line(f"handler logs: {self.log_path}")
        self.line(f"done in {elapsed:.1f}s")

    def _make_changes(self, box: Sandbox) -> list[Call]:
        web, db, batch = (box.org.groups[key] for key in ("web", "db", "batch"))
        calls: list[Call] = []

        def call(label: str, group: str, who: Developer, method: str, **params: Any) -> None:
            step = f"make the change '{label}'"
            with self.step(step):
                before = len(box.trail.records)
                ec2 = box.developer_ec2(group, who.email)
                answer = getattr(ec2, method)(**params)
                records = box.trail.records[before:]
                self.expect(step, len(records) == 1, f"{len(records)} CloudTrail records")
            ids = tuple(r["SecurityGroupRuleId"] for r in answer.get("SecurityGroupRules", []))
            calls.append(Call(label, group, who, str(records[0]["eventID"]), ids))

        call(
            "SSH from anywhere (IPv4 + IPv6) on web",
            "web",
            ERIN,
            "authorize_security_group_ingress",
            GroupId=web.group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 22,
                    "ToPort": 22,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "debugging"}],
                    "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "debugging"}],
                }
            ],
        )
        call(
            "PostgreSQL from the reporting subnet on db",
            "db",
            CAROL,
            "authorize_security_group_ingress",
            GroupId=db.group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "IpRanges": [{"CidrIp": "10.2.0.0/24", "Description": "reporting"}],
                }
            ],
        )
        call(
            "SSH from the bastion subnets on web",
            "web",
            FRANK,
            "authorize_security_group_ingress",
            GroupId=web.group_id,
            IpPermissions=[BASTION_SSH],
        )
        call(
            "HTTPS out to a partner API on web",
            "web",
            DAVE,
            "authorize_security_group_egress",
            GroupId=web.group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 443,
                    "ToPort": 443,
                    "IpRanges": [{"CidrIp": "203.0.113.0/24", "Description": "partner API"}],
                }
            ],
        )
        call(
            "RDP from anywhere on batch",
            "batch",
            FRANK,
            "authorize_security_group_ingress",
            GroupId=batch.group_id,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 3389,
                    "ToPort": 3389,
                    "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "remote desktop"}],
                }
            ],
        )
        return calls

    # -- later that day: a rule widened in place, a prefix list widened ---------------------

    def _widen(self, box: Sandbox, bastion: Call) -> tuple[Call, Call]:
        """The second round: the edits that open access without adding a rule, both denied
        and undone exactly. Returns the two calls, for the summary."""
        org = box.org
        offices = org.prefix_lists["offices"]
        (rule_id,) = bastion.rule_ids
        self.section("Later: a rule widened in place, a prefix list widened")
        with self.step("read the offices' prefix list"):
            # One admin client in member-a for every read: a new session costs a second.
            reader = org.ec2(org.groups["web"])
            version = _list_version(reader, offices)
            entries_before = _entries(reader, offices)
        widened = self._edit(
            box,
            "SSH on web widened: 10.0.0.0/8 -> 0.0.0.0/0",
            group="web",
            who=ERIN,
            rule_ids=(rule_id,),
            method="modify_security_group_rules",
            GroupId=org.groups["web"].group_id,
            SecurityGroupRules=[
                {
                    "SecurityGroupRuleId": rule_id,
                    "SecurityGroupRule": {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "CidrIpv4": "0.0.0.0/0",
                        "Description": "vendor support",
                    },
                }
            ],
        )
        opened = self._edit(
            box,
            f"0.0.0.0/0 added to prefix list {offices.name}",
            group=next(iter(offices.referenced_by)),  # a group in the list's account
            who=DAVE,
            rule_ids=(),
            method="modify_managed_prefix_list",
            PrefixListId=offices.list_id,
            CurrentVersion=version,
            AddEntries=[{"Cidr": "0.0.0.0/0", "Description": "vendor access (temporary)"}],
        )
        edits = [widened, opened]
        for call in edits:
            self.line(f"{call.who.email:<22} {call.label}")
        self.line(self.r.style("dim", f"rule {rule_id}, list {offices.list_id}"), indent=25)

        with self.step("deliver the new CloudTrail records to Lake"):
            delivered = box.deliver_trail()
        self.ok(f"{delivered} CloudTrail records delivered to the event data store")
        self.section("revertsg-1 runs again: the earlier values come from the records")
        with self.step("run the detector again"):
            report = box.run_detector()
        self.ok(
            f"{report['rows']} rows from Lake (the lookback overlaps the last run: those are "
            f"recorded already), {report['recorded']} changes recorded, "
            f"{report['posted']} posted to Slack"
        )
        self.expect(
            "run the detector again",
            report["recorded"] == 2 and report["posted"] == 2,
            f"expected 2 changes recorded and posted, got {report}",
        )

        self.section(f"Slack #security-changes ({box.channel})")
        with self.step(f"read the Slack message for {widened.label}"):
            posted = box.posted(widened.event_id).message
            said = message_texts(posted.blocks, posted.text)
        self._show_message(posted.blocks, posted.text)
        self.expect(
            f"read the Slack message for {widened.label}",
            any(_BASTION_CIDR in x and "→" in x and "0.0.0.0/0" in x for x in said.splitlines()),
            "the message does not show the rule as 10.0.0.0/8 → 0.0.0.0/0",
        )
        with self.step(f"read the Slack message for {opened.label}"):
            posted = box.posted(opened.event_id).message
            said = message_texts(posted.blocks, posted.text)
        self._show_message(posted.blocks, posted.text)
        groups = [org.groups[key] for key in offices.referenced_by]
        unnamed = [g.key for g in groups if g.group_id not in said and f"`{g.name}`" not in said]
        self.expect(
            f"read the Slack message for {opened.label}",
            offices.name in said and "0.0.0.0/0" in said and not unnamed,
            f"the message does not name the list, the CIDR or the groups {unnamed}",
        )

        self.section("Decisions (signed Slack clicks -> API Gateway -> revertsg-2)")
        self._click(box, widened, "deny", ALICE, "denies")
        self._click(box, opened, "deny", BOB, "denies")
        with self.step("wait for the asynchronous reverts"):
            box.wait_for_reverts()

        self.section("Slack after the decisions (chat.update)")
        for call in edits:
            with self.step(f"check the outcome of {call.label}"):
                record = box.record(call.event_id)
                posted = box.posted(call.event_id).message
            self.expect(
                f"check the outcome of {call.label}",
                record.state is State.REVERTED,
                f"state is {record.state.value}, expected REVERTED"
                + (f" ({record.outcome})" if record.outcome else ""),
            )
            blocks = posted.blocks or []
            dividers = [i for i, b in enumerate(blocks) if b.get("type") == "divider"]
            self.line(f"{self.r.style('bold', call.label)}:")
            self._show_message(blocks[dividers[-1] + 1 :] if dividers else blocks, posted.text)

        self.section("The widened rule and the prefix list, before and after")
        step = "check the rule and the list"
        with self.step(step):
            rule = _described(reader, rule_id)
            entries_after = _entries(reader, offices)
        now = f"{rule.get('IpProtocol')} {rule.get('FromPort')} from {rule.get('CidrIpv4')}"
        self.line(self.r.style("bold", f"rule {rule_id} on web"))
        self.line(f"  approved  tcp 22 from {_BASTION_CIDR}  (bastion subnets)")
        self.line(self.r.style("danger", "- widened   tcp 22 from 0.0.0.0/0  (denied)"))
        self.line(self.r.style("primary", f"+ now       {now}  ({rule.get('Description')})"))
        self.line(self.r.style("bold", f"{offices.name} {offices.list_id}"))
        for cidr in sorted(entries_before):
            self.line(f"  {cidr}")
        self.line(self.r.style("danger", "- 0.0.0.0/0  (added, denied: removed)"))
        self.expect(
            step,
            (rule.get("IpProtocol"), rule.get("FromPort"), rule.get("ToPort")) == ("tcp", 22, 22)
            and rule.get("CidrIpv4") == _BASTION_CIDR,
            f"rule {rule_id} is {now}, not tcp 22 from {_BASTION_CIDR}",
        )
        self.expect(
            step,
            entries_after == entries_before,
            f"{offices.name} holds {sorted(entries_after)}, not {sorted(entries_before)}",
        )
        return widened, opened

    # -- later still: two approvers, allowed for an hour, reminders, expired -------------------

    def _two_approvers(self, box: Sandbox) -> Call:
        """The third choice: SSH to the world again, allowed for 1 h this time. It is
        critical, so it needs two approvers: alice's Allow for… counts one (her second
        click is refused, privately), bob's Approve makes it APPROVED for her hour."""
        web = box.org.groups["web"]
        self.section('Later: SSH to the world again, "for an hour, to debug"')
        label = "SSH from anywhere on web, to debug"
        step = f"make the change '{label}'"
        with self.step(step):
            before = len(box.trail.records)
            answer = box.developer_ec2("web", ERIN.email).authorize_security_group_ingress(
                GroupId=web.group_id,
                IpPermissions=[
                    {
                        "IpProtocol": "tcp",
                        "FromPort": 22,
                        "ToPort": 22,
                        "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "debugging, 1 h"}],
                    }
                ],
            )
            records = box.trail.records[before:]
            self.expect(step, len(records) == 1, f"{len(records)} CloudTrail records")
        ids = tuple(r["SecurityGroupRuleId"] for r in answer.get("SecurityGroupRules", []))
        call = Call(label, "web", ERIN, str(records[0]["eventID"]), ids)
        self.line(f"{ERIN.email:<22} {label}")
        self.line(self.r.style("dim", f"rule ids {', '.join(ids)}"), indent=25)
        with self.step("deliver the CloudTrail record and run the detector"):
            box.deliver_trail()
            report = box.run_detector()
        self.expect(
            "deliver the CloudTrail record and run the detector",
            report["recorded"] == 1 and report["posted"] == 1,
            f"expected 1 change recorded and posted, got {report}",
        )
        self.ok("revertsg-1 recorded it and posted it to Slack, with Allow for… beside Approve")
        with self.step(f"read the Slack message for {label}"):
            posted = box.posted(call.event_id).message
        self._show_tail(label, posted.blocks, posted.text)  # its context: as the first SSH's

        needed = POLICY["approvals_required"]["critical"]
        self.section(f"Two approvers for a critical change (approvals_required: critical {needed})")
        self._click(box, call, "approve_for", ALICE, "allows for 1 h", option="1 h")
        step = "count alice's approval"
        with self.step(step):
            box.wait_for_reverts()  # anything the click handed over
            record = box.record(call.event_id)
            posted = box.posted(call.event_id).message
        self.expect(
            step,
            record.state is State.PENDING
            and record.approvers == (ALICE.id,)
            and record.approvals_needed == needed,
            f"state is {record.state.value} with approvals by {record.approvers} of "
            f"{record.approvals_needed}, expected PENDING with alice's, 1 of {needed}",
        )
        self.expect(
            step,
            _buttons(posted.blocks) == ["approve", "approve_for", "deny"],
            f"the message offers {_buttons(posted.blocks)}, not its buttons for the others",
        )
        self._show_tail(label, posted.blocks, posted.text)

        told_before = len(box.slack.ephemerals)
        self._click(box, call, "approve", ALICE, "approves again")
        step = "tell alice she approved already"
        with self.step(step):
            told = [e for e in box.slack.ephemerals[told_before:] if e.user == ALICE.id]
            record = box.record(call.event_id)
        self.expect(step, len(told) == 1, f"{len(told)} ephemeral replies to alice")
        self.expect(
            step,
            record.state is State.PENDING and record.approvers == (ALICE.id,),
            f"state is {record.state.value} with approvals by {record.approvers}",
        )
        self.line(self.r.style("dim", "only alice sees: ") + self.r.mrkdwn(told[0].text or ""), 4)

        self._click(box, call, "approve", BOB, "approves")
        step = "approve it with the second approver"
        with self.step(step):
            box.wait_for_reverts()
            record = box.record(call.event_id)
            posted = box.posted(call.event_id).message
            said = message_texts(posted.blocks, posted.text)
            schedules = box.schedules()
        deadline = record.approved_until
        self.expect(
            step,
            record.state is State.APPROVED
            and deadline is not None
            and set(record.approvers) == {ALICE.id, BOB.id},
            f"state is {record.state.value}, approved until {deadline} by {record.approvers}",
        )
        assert deadline is not None
        self.expect(
            step,
            all(f"<@{user.id}>" in said for user in (ALICE, BOB)) and "(1 h)" in said,
            "the message does not name both approvers and alice's 1 h",
        )
        self._show_tail(label, posted.blocks, posted.text)
        own = sorted(
            str(s.event.get("sgrevert"))
            for s in schedules
            if isinstance(s.event, dict) and s.event.get("event_id") == call.event_id
        )
        self.expect(
            step,
            own == ["expire", "nudge", "remind"]
            and all(s.target_arn == box.respond_arn and s.delete_after for s in schedules),
            f"expected this change's expiry, reminder and undecided reminder schedules "
            f"invoking revertsg-2, got {schedules}",
        )
        self.line(
            f"EventBridge Scheduler (moto), group {box.schedule_group}: one-time schedules "
            "invoking revertsg-2 through the scheduler role, deleted once fired"
        )
        for schedule in schedules:
            self.line(
                f"{schedule.name}  at({schedule.at:%Y-%m-%dT%H:%M:%S}) UTC  "
                + self.r.style("dim", f"input {schedule.input}"),
                indent=4,
            )
        return call

    def _remind_undecided(self, box: Sandbox, undecided: Call, decided: Sequence[Call]) -> datetime:
        """The clock moves past the undecided reminders' time: each critical change posted
        has a `nudge-` schedule; the one still undecided is reminded about in its thread,
        mentioning the on-call group, and the decided ones' schedules do nothing."""
        self.section(
            f"The sandbox's clock moves {_minutes(REMIND_AFTER)} ahead (no waiting): "
            "undecided reminders"
        )
        step = f"remind about {undecided.label}"
        with self.step(step):
            replies = {c.event_id: len(box.thread(c.event_id)) for c in decided}
            fired = box.advance(REMIND_AFTER)
            record = box.record(undecided.event_id)
            thread = box.thread(undecided.event_id)
            after = {c.event_id: len(box.thread(c.event_id)) for c in decided}
            states = {c.event_id: box.record(c.event_id).state for c in decided}
        about = {
            f.schedule.event.get("event_id"): f
            for f in fired
            if isinstance(f.schedule.event, dict) and f.schedule.event.get("sgrevert") == "nudge"
        }
        expected = {undecided.event_id, *(c.event_id for c in decided)}
        self.expect(
            step,
            len(fired) == len(about) == len(expected)
            and set(about) == expected
            and all(f.delivered for f in fired),
            f"expected one undecided reminder's schedule for each critical change, fired {fired}",
        )
        nudged = about[undecided.event_id]
        self.ok(
            f"{nudged.schedule.name} fired at {_hhmm(nudged.fired_at)}: revertsg-2 reminded "
            f"about {undecided.label}, undecided since its post"
        )
        reply = thread[-1] if thread else None
        self.expect(
            step,
            record.state is State.PENDING and record.nudges == 1 and len(thread) == 1,
            f"state is {record.state.value} with {record.nudges} reminders and "
            f"{len(thread)} thread replies, expected PENDING with one of each",
        )
        self.expect(
            step,
            reply is not None and f"<!subteam^{ON_CALL}>" in (reply.text or ""),
            f"the reminder in the thread does not mention the user group {ON_CALL}",
        )
        assert reply is not None
        self.line("in the message's thread:")
        self._show_message(reply.blocks, reply.text)
        self.expect(
            step,
            after == replies and all(s is not State.PENDING for s in states.values()),
            f"thread replies {replies} -> {after} on the changes decided meanwhile ({states})",
        )
        self.ok(
            f"{len(decided)} more nudge- schedules fired, for the critical changes decided "
            "meanwhile: nothing to remind about, and each deleted itself"
        )
        return nudged.fired_at

    def _for_an_hour(self, box: Sandbox, call: Call) -> ForAnHour:
        """The approval for an hour: the clock is moved past its reminder, then past its
        deadline, and each time what the EventBridge Scheduler schedules do when they fire
        is checked."""
        label, ids = call.label, call.rule_ids
        remind_in = timedelta(minutes=55) - REMIND_AFTER
        self.section(
            f"The clock moves {_minutes(remind_in)} more: the approval's reminder "
            "(55 minutes after it)"
        )
        step = "remind the approver before the deadline"
        with self.step(step):
            fired = box.advance(remind_in)
            record = box.record(call.event_id)
            thread = box.thread(call.event_id)
        reminders = [f for f in fired if f.schedule.name.startswith("remind-") and f.delivered]
        self.expect(
            step,
            len(fired) == 1 and len(reminders) == 1,
            f"expected the reminder's schedule to fire once, fired {fired}",
        )
        reminded = reminders[0].fired_at
        self.ok(
            f"{reminders[0].schedule.name} fired at {_hhmm(reminded)}: revertsg-2 invoked "
            "asynchronously with its input; the schedule deleted itself"
        )
        reply = thread[-1] if thread else None
        self.expect(
            step,
            reply is not None and f"<@{record.decided_by}>" in (reply.text or ""),
            f"no reminder mentioning {record.decided_by} in the message's thread",
        )
        self.expect(
            step,
            record.state is State.APPROVED and set(ids) <= {v.rule_id for v in box.rules("web")},
            f"state is {record.state.value} before the deadline, not APPROVED with its rule",
        )
        assert reply is not None
        self.line("in the message's thread:")
        self._show_message(reply.blocks, reply.text)

        approver = record.decided_by
        self.section("The clock moves 10 minutes more: past the deadline")
        step = "expire the approval at its deadline"
        with self.step(step):
            fired = box.advance(timedelta(minutes=10))
            record = box.record(call.event_id)
            posted = box.posted(call.event_id).message
            said = message_texts(posted.blocks, posted.text)
            thread = box.thread(call.event_id)
            rules = {v.rule_id for v in box.rules("web")}
            left = box.schedules()
        expiries = [f for f in fired if f.schedule.name.startswith("expire-") and f.delivered]
        self.expect(
            step,
            len(fired) == 1 and len(expiries) == 1,
            f"expected the expiry's schedule to fire once, fired {fired}",
        )
        expired = expiries[0].fired_at
        self.ok(
            f"{expiries[0].schedule.name} fired at {_hhmm(expired)}: revertsg-2 reverted the "
            "change as a Deny does"
        )
        self.expect(
            step,
            record.state is State.REVERTED and record.decided_by == f"expiry:{approver}",
            f"state is {record.state.value} decided by {record.decided_by}, expected REVERTED "
            f"by expiry:{approver}" + (f" ({record.outcome})" if record.outcome else ""),
        )
        self.expect(step, not set(ids) & rules, f"rules {sorted(set(ids) & rules)} still on web")
        self.expect(step, "expired" in said.lower(), "the message does not say it expired")
        self.expect(step, not left, f"schedules left after the expiry: {left}")
        self._show_tail(label, posted.blocks, posted.text)
        # The thread is the audit trail: a reply for each step after the post itself.
        steps = [t.step for t in record.history]
        expected = [
            Step.POSTED,
            Step.APPROVAL,
            Step.ALLOWED_UNTIL,
            Step.REMINDED,
            Step.EXPIRED,
            Step.REVERTED,
        ]
        self.expect(
            step,
            steps == expected and len(thread) == len(steps) - 1,
            f"history {[s.value for s in steps]} with {len(thread)} thread replies, expected "
            f"{[s.value for s in expected]} with a reply for each step after the post",
        )
        self.line("the message's thread, its history:")
        for reply in thread:
            self._show_message(reply.blocks[:1] if reply.blocks else None, reply.text)
        self.line(
            self.r.style("danger", f"- {', '.join(ids)} on web  (tcp 22 from 0.0.0.0/0: revoked)")
        )
        return ForAnHour(call, reminded, expired, approver or "")

    def _edit(
        self,
        box: Sandbox,
        label: str,
        *,
        group: str,
        who: Developer,
        rule_ids: tuple[str, ...],
        method: str,
        **params: Any,
    ) -> Call:
        step = f"make the change '{label}'"
        with self.step(step):
            before = len(box.trail.records)
            getattr(box.developer_ec2(group, who.email), method)(**params)
            records = box.trail.records[before:]
            self.expect(step, len(records) == 1, f"{len(records)} CloudTrail records")
        return Call(label, group, who, str(records[0]["eventID"]), rule_ids)

    def _check_context(self, box: Sandbox, calls: list[Call]) -> list[str]:
        """What the detector read before posting, as kept on each record: checked against
        the organization as built, and told back as the summary's facts."""
        step = "read the changes' context"
        org = box.org
        read: dict[str, ChangeContext] = {}
        for call in calls:
            context = box.record(call.event_id).context
            if context is None:
                raise StepFailed(step, f"{call.label}: no context on the record")
            gaps = "; ".join(g.reason for g in context.gaps)
            self.expect(step, not gaps, f"{call.label}: could not read {gaps}")
            account = org.groups[call.group].account
            self.expect(
                step,
                context.account_name == org.name_of(account),
                f"{call.label}: account named {context.account_name!r}, not "
                f"{org.name_of(account)!r}",
            )
            user = context.actor.slack_user if context.actor else None
            self.expect(
                step,
                user == call.who.slack.id,
                f"{call.label}: actor {call.who.email} found as {user!r} in Slack",
            )
            read[call.group] = context
        web, db, batch = (_attachments(read[key], key, step) for key in ("web", "db", "batch"))
        public = [a for a in web.public if a.kind is AttachmentKind.INSTANCE]
        self.expect(step, bool(public), "web: no instance reachable from the internet")
        self.expect(step, db.counts.get(AttachmentKind.RDS) == 1, f"db: attached to {db.counts}")
        self.expect(step, batch.total == 0, f"batch: {batch.total} network interfaces")
        names = sorted({org.name_of(org.groups[c.group].account) for c in calls})
        instance = public[0]
        return [
            "context read before posting (describe-only sessions through sgrevert-hub -> "
            "spoke-001; names through sgrevert-org-read):",
            f"accounts by name: {', '.join(names)}",
            f"web reachable from the internet: {instance.resource_id} ({instance.name}) "
            f"{instance.public_ip}",
            "db attached to an RDS network interface",
            "batch attached to nothing",
            "every actor mentioned: "
            + ", ".join(f"@{who.slack.username}" for who in dict.fromkeys(c.who for c in calls)),
        ]

    def _click(
        self,
        box: Sandbox,
        call: Call,
        action: str,
        user: Any,
        verb: str,
        *,
        option: str | None = None,
    ) -> None:
        step = f"{user.username} clicks {action} on {call.label}"
        with self.step(step):
            started = time.monotonic()
            answer = box.click(call.event_id, action, user, option=option)
            millis = (time.monotonic() - started) * 1000
        self.expect(step, answer.status_code == 200, f"HTTP {answer.status_code} {answer.text}")
        self.line(
            f"{user.username:<8} {verb:<17} {call.label:<44} "
            + self.r.style("dim", f"HTTP {answer.status_code} in {millis:.0f} ms")
        )

    def _show_tail(
        self, label: str, blocks: Sequence[dict[str, Any]] | None, text: str | None
    ) -> None:
        """What changed in a message: the part after its last divider."""
        shown = list(blocks or [])
        dividers = [i for i, b in enumerate(shown) if b.get("type") == "divider"]
        self.line(f"{self.r.style('bold', label)}:")
        self._show_message(shown[dividers[-1] + 1 :] if dividers else shown, text)

    def _show_message(self, blocks: Sequence[dict[str, Any]] | None, text: str | None) -> None:
        bar = self.r.style("dim", "│ ")
        print()
        for row in self.r.message(blocks, text).splitlines():
            print("  " + bar + row)

    def _show_rules(
        self, before: list[RuleView], after: list[RuleView], notes: dict[str, str]
    ) -> None:
        """Each rule as it was before the decisions: `-` and red when it is gone now."""
        kept = {v.rule_id for v in after}
        for view in before:
            text = (
                f"{view.direction:<7} {view.protocol:<4} {view.ports:<5} "
                f"{view.source:<20} {view.rule_id}  {view.description}"
            )
            if view.rule_id not in kept:
                self.line(self.r.style("danger", f"- {text}  (denied: revoked)"))
            elif view.rule_id in notes:
                self.line(f"  {text}  " + self.r.style("dim", f"({notes[view.rule_id]})"))
            else:
                self.line(f"  {text}".rstrip())
        for view in after:
            if view.rule_id not in {v.rule_id for v in before}:
                self.line(self.r.style("primary", f"+ {view.rule_id} (appeared since)"))

    @staticmethod
    def _check_rules(
        before: dict[str, list[RuleView]], after: dict[str, list[RuleView]], revoked: set[str]
    ) -> None:
        for key, views in before.items():
            was = {v.rule_id for v in views}
            now = {v.rule_id for v in after[key]}
            if now != was - revoked:
                missing = sorted((was - revoked) - now)
                extra = sorted(now - (was - revoked))
                raise AssertionError(
                    f"group {key}: rules wrongly removed {missing}, wrongly kept {extra}"
                )


_BASTION_CIDR = BASTION_SSH["IpRanges"][0]["CidrIp"]


def _hhmm(moment: datetime) -> str:
    return moment.strftime("%H:%M UTC")


def _minutes(span: timedelta) -> str:
    return f"{round(span.total_seconds() / 60)} minutes"


def _buttons(blocks: Sequence[dict[str, Any]] | None) -> list[str]:
    """The action ids of a message's buttons and menus, in order."""
    return [
        str(element.get("action_id"))
        for block in blocks or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


def _list_version(ec2: Any, listed: PrefixList) -> int:
    (found,) = ec2.describe_managed_prefix_lists(PrefixListIds=[listed.list_id])["PrefixLists"]
    return int(found["Version"])


def _entries(ec2: Any, listed: PrefixList) -> set[str]:
    pages = ec2.get_paginator("get_managed_prefix_list_entries").paginate(
        PrefixListId=listed.list_id
    )
    return {entry["Cidr"] for page in pages for entry in page["Entries"]}


def _described(ec2: Any, rule_id: str) -> dict[str, Any]:
    (rule,) = ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])[
        "SecurityGroupRules"
    ]
    return dict(rule)


def _attached(group: Group) -> str:
    """ "EC2 instance web-1 (i-…), public IP 1.2.3.4", "RDS network interface eni-…", nothing."""
    if not group.attached:
        return "nothing"
    parts = []
    for item in group.attached:
        named = f"{item.name} ({item.resource_id})" if item.name else item.resource_id
        public = f", public IP {item.public_ip}" if item.public_ip else ""
        parts.append(f"{item.kind} {named}{public}")
    return "; ".join(parts)


def _attachments(context: ChangeContext, key: str, step: str) -> Attachments:
    if context.attachments is None:
        raise StepFailed(step, f"{key}: what the group is attached to was not read")
    return context.attachments


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.demo", description=__doc__)
    parser.add_argument(
        "--log-file", type=Path, default=DEFAULT_LOG, help=f"handler logs (default {DEFAULT_LOG})"
    )
    parser.add_argument("--no-colour", action="store_true", help="plain text even on a terminal")
    args = parser.parse_args(argv)
    colour = sys.stdout.isatty() and not args.no_colour and "NO_COLOR" not in os.environ
    warnings.simplefilter("ignore")  # library deprecation chatter is not part of the story
    demo = Demo(Renderer(colour=colour, users={**USERS, ON_CALL: ON_CALL_HANDLE}), args.log_file)
    try:
        demo.run()
    except StepFailed as failure:
        print(file=sys.stderr)
        print(f"demo FAILED at step: {failure.step}", file=sys.stderr)
        print(f"  reason: {failure.reason}", file=sys.stderr)
        print(f"  handler logs: {args.log_file}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
