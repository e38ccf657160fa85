"""The context the detector reads before posting, over the sandbox's whole world: the
account by its name (ListAccounts through the management account's role), what each group
is attached to (an instance with a public IP, a database's interface, nothing), and the
actor mentioned in Slack, found by the email their session is named after."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox.servers import CAROL, ERIN, FRANK, Sandbox
from sgrevert.context import AttachmentKind
from tests.e2e.story import authorize

pytestmark = pytest.mark.e2e

NOT_IN_SLACK = "zoe.contractor@example.com"  # a developer session with no Slack member


def shown(box: Sandbox, event_id: str) -> str:
    """Everything a change's message says: its blocks and its fallback text."""
    message = box.posted(event_id).message
    return json.dumps(message.blocks, ensure_ascii=False) + (message.text or "")


def context_lines(box: Sandbox, event_id: str) -> list[str]:
    """The message's context section: the texts of its sections and context blocks."""
    message = box.posted(event_id).message
    texts: list[str] = []
    for block in message.blocks or []:
        parts: list[Any] = [block.get("text") or {}, *block.get("elements", [])]
        texts += [str(p.get("text")) for p in parts if isinstance(p, dict) and p.get("text")]
    return texts


def test_each_message_names_the_account_says_what_the_group_is_attached_to_and_mentions_the_actor(
    box: Sandbox,
) -> None:
    org = box.org
    web, db, batch = (org.groups[key] for key in ("web", "db", "batch"))
    (instance,) = web.attached
    # Given changes on a group in front of a public instance, one on a database's group,
    # one on a group attached to nothing, and one by someone Slack does not know
    ssh = authorize(box, "web", "0.0.0.0/0", 22, who=ERIN.email)
    postgres = authorize(box, "db", "10.2.0.0/24", 5432, who=CAROL.email)
    rdp = authorize(box, "batch", "0.0.0.0/0", 3389, who=FRANK.email)
    stranger = authorize(box, "web", "192.0.2.0/24", 8443, who=NOT_IN_SLACK)
    box.deliver_trail()

    # When the detector runs
    report = box.run_detector()

    # Then every change is posted once
    assert (report["recorded"], report["posted"]) == (4, 4)
    # and says whose account it is, by name
    for made, group in ((ssh, web), (postgres, db), (rdp, batch), (stranger, web)):
        assert f"{org.name_of(group.account)} (`{group.account}`)" in shown(box, made.event_id)
    # and the web group's reaches the internet, through the instance it names
    web_text = shown(box, ssh.event_id)
    assert "reachable from the internet" in web_text
    assert instance.resource_id in web_text and "web-1" in web_text
    assert instance.public_ip is not None and instance.public_ip in web_text
    # and the database's is on an RDS interface, not reachable, and attached to something
    db_text = shown(box, postgres.event_id)
    assert "RDS network interface" in db_text
    assert "reachable from the internet" not in db_text
    assert "attached to nothing" not in db_text
    # and the batch group's is attached to nothing
    rdp_text = shown(box, rdp.event_id)
    assert "attached to nothing" in rdp_text
    assert "reachable from the internet" not in rdp_text
    # and each actor Slack knows is mentioned; the one it does not is named by email
    for made, who in ((ssh, ERIN), (postgres, CAROL), (rdp, FRANK)):
        assert any(f"<@{who.slack.id}>" in line for line in context_lines(box, made.event_id))
    stranger_text = shown(box, stranger.event_id)
    assert NOT_IN_SLACK in stranger_text
    assert "<@" not in stranger_text

    # and what was read is kept on the records, with nothing left unread
    for made in (ssh, postgres, rdp):
        context = box.record(made.event_id).context
        assert context is not None
        assert context.gaps == ()
        assert context.rules is not None
        assert set(made.rule_ids) <= {r.rule_id for r in context.rules}
    db_context = box.record(postgres.event_id).context
    assert db_context is not None and db_context.attachments is not None
    assert dict(db_context.attachments.counts) == {AttachmentKind.RDS: 1}
    unknown = box.record(stranger.event_id).context
    assert unknown is not None and unknown.actor is not None
    assert (unknown.actor.email, unknown.actor.slack_user) == (NOT_IN_SLACK, None)
    # and Slack was asked once per person, however many changes they made
    lookups = [str(p.get("email")) for m, p in box.slack.calls if m == "users.lookupByEmail"]
    assert sorted(lookups) == sorted({ERIN.email, CAROL.email, FRANK.email, NOT_IN_SLACK})
