"""Whether a click counts: it comes from where the change was posted, and from one of the
people who decide it.

- Place: the click's workspace is `SLACK_TEAM_ID` (when set), its channel is the one the
  change was posted to, and its message is the change's (or a reply in that message's
  thread, where a reminder's buttons are). A copy posted for information has no buttons,
  so no click counts from elsewhere.
- People: the approvers of the change's route (kept on the record when it was posted),
  or the default approvers for a change the default route posted; the default approvers
  never override a route's. A user group among them counts its members
  (`usergroups.may_decide`); a group that cannot be read refuses, saying why.

Each failure raises a refusal that `interaction.explain` words; nothing is written.
"""

from __future__ import annotations

from collections.abc import Collection

from sgrevert.errors import WrongPlace
from sgrevert.interaction import Click, NotAllowed
from sgrevert.model import ChangeRecord
from sgrevert.usergroups import UserGroups, may_decide


def check_place(click: Click, posted: ChangeRecord, team_id: str | None) -> None:
    """WrongPlace unless `click` comes from `team_id` (when set) and the message `posted`
    (a change, or a member of a group message) is in."""
    if team_id and click.team_id != team_id:
        raise WrongPlace("workspace", f"{click.team_id or 'none'}, not {team_id}")
    if posted.slack_channel is None or posted.slack_ts is None:
        raise WrongPlace("message", f"{posted.event_id} has no message in Slack")
    if click.channel_id != posted.slack_channel:
        raise WrongPlace("channel", f"{click.channel_id}, not {posted.slack_channel}")
    if posted.slack_ts not in (click.message_ts, click.thread_ts):
        raise WrongPlace("message", f"{click.message_ts or 'none'}, not {posted.slack_ts}")


def approvers_of(posted: ChangeRecord, default: Collection[str]) -> Collection[str]:
    """Who decides the change: its route's approvers, or the default ones."""
    return posted.route_approvers if posted.route_approvers is not None else default


def check_decider(user: str, approvers: Collection[str], groups: UserGroups) -> None:
    """NotAllowed unless `user` is one of `approvers` or in one of their user groups
    (anyone, when there are none); UserGroupUnreadable when it depends on a group that
    cannot be read."""
    if not may_decide(user, approvers, groups):
        raise NotAllowed(user, approvers)
