"""Slack user groups as approvers (`sgrevert.usergroups`) against the Slack stand-in, through
slack_sdk's WebClient as a click's answer builds it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from sandbox.slack_api import SlackStandIn
from sgrevert.errors import SgrevertError
from sgrevert.settings import SlackSettings
from sgrevert.slack import SlackCredentials, click_client, web_client
from sgrevert.usergroups import UserGroups, UserGroupUnreadable, may_decide
from tests.support import BOT_TOKEN, SIGNING_SECRET

ADMINS, ONCALL = "S0ADMINS", "S0ONCALL"
ALICE, BOB, CAROL = "U0ALICE", "W0BOB", "U0CAROL"


class Clock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    with SlackStandIn(bot_token=BOT_TOKEN) as stand_in:
        stand_in.usergroups[ADMINS] = [ALICE, BOB]
        stand_in.usergroups[ONCALL] = [CAROL]
        yield stand_in


@pytest.fixture
def clock() -> Clock:
    return Clock()


def client(slack: SlackStandIn, timeout: float | None = None) -> WebClient:
    settings = SlackSettings(secret_arn="unused", api_url=slack.api_url)
    credentials = SlackCredentials(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET)
    if timeout is None:
        return click_client(settings, credentials)
    return web_client(
        settings,
        credentials,
        max_rate_limit_retries=0,
        resend_on_connection_error=False,
        timeout=timeout,
    )


@pytest.fixture
def groups(slack: SlackStandIn, clock: Clock) -> UserGroups:
    web = client(slack)
    return UserGroups(lambda: web, clock=clock)


def lookups(slack: SlackStandIn) -> list[str]:
    return [str(p.get("usergroup")) for m, p in slack.calls if m == "usergroups.users.list"]


def test_a_member_of_a_listed_group_may_decide(slack: SlackStandIn, groups: UserGroups) -> None:
    assert may_decide(BOB, [CAROL, ADMINS], groups) is True
    assert lookups(slack) == [ADMINS]


def test_someone_in_no_listed_group_and_not_listed_may_not(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    assert may_decide(CAROL, [ALICE, ADMINS], groups) is False
    assert lookups(slack) == [ADMINS]


def test_a_user_listed_directly_needs_no_lookup(slack: SlackStandIn, groups: UserGroups) -> None:
    assert may_decide(CAROL, [ADMINS, CAROL], groups) is True
    assert lookups(slack) == []


def test_anyone_may_decide_when_no_approvers_are_configured(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    assert may_decide(CAROL, [], groups) is True
    assert lookups(slack) == []


def test_members_are_kept_for_the_max_age(
    slack: SlackStandIn, groups: UserGroups, clock: Clock
) -> None:
    # Given a group looked up once
    assert groups.members(ADMINS) == frozenset({ALICE, BOB})
    # When it changes in Slack and clicks keep coming within five minutes
    slack.usergroups[ADMINS] = [ALICE]
    clock.now += 299
    # Then the members from the lookup still answer, without asking Slack again
    assert may_decide(BOB, [ADMINS], groups) is True
    assert groups.members(ADMINS) == frozenset({ALICE, BOB})
    assert lookups(slack) == [ADMINS]


def test_members_are_looked_up_again_after_the_max_age(
    slack: SlackStandIn, groups: UserGroups, clock: Clock
) -> None:
    assert may_decide(BOB, [ADMINS], groups) is True
    # When Bob leaves the group and five minutes pass
    slack.usergroups[ADMINS] = [ALICE]
    clock.now += 300
    # Then Slack is asked again and Bob may no longer decide
    assert may_decide(BOB, [ADMINS], groups) is False
    assert lookups(slack) == [ADMINS, ADMINS]


def test_the_max_age_is_configurable(slack: SlackStandIn, clock: Clock) -> None:
    web = client(slack)
    groups = UserGroups(lambda: web, clock=clock, max_age=60)
    groups.members(ADMINS)
    clock.now += 59
    groups.members(ADMINS)
    clock.now += 1
    groups.members(ADMINS)
    assert lookups(slack) == [ADMINS, ADMINS]


def test_a_known_group_is_tried_before_any_is_looked_up(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    # Given the on-call group already known
    groups.members(ONCALL)
    # When Carol clicks on a change whose approvers list the admins first
    assert may_decide(CAROL, [ADMINS, ONCALL], groups) is True
    # Then the admins were not asked for
    assert lookups(slack) == [ONCALL]


def test_a_group_without_the_scope_refuses_with_the_reason(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    # Given an app installed without usergroups:read
    slack.usergroups_scope = False
    # When a member of the listed group clicks
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(BOB, [ALICE, ADMINS], groups)
    # Then the click is refused, naming the group and what to fix
    assert isinstance(refused.value, SgrevertError)
    assert (refused.value.group_id, refused.value.code) == (ADMINS, "missing_scope")
    assert "usergroups:read" in refused.value.reason
    assert "reinstall" in refused.value.reason
    assert str(refused.value) == f"the user group {ADMINS} cannot be read: {refused.value.reason}"


def test_an_unknown_group_refuses_with_the_reason(slack: SlackStandIn, groups: UserGroups) -> None:
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(BOB, ["S0GONE"], groups)
    assert (refused.value.group_id, refused.value.code) == ("S0GONE", "no_such_subteam")
    assert "no user group with this id" in refused.value.reason


def test_a_refused_token_refuses_with_the_reason(slack: SlackStandIn, clock: Clock) -> None:
    settings = SlackSettings(secret_arn="unused", api_url=slack.api_url)
    wrong = click_client(settings, SlackCredentials("xoxb-wrong", SIGNING_SECRET))
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(BOB, [ADMINS], UserGroups(lambda: wrong, clock=clock))
    assert refused.value.code == "invalid_auth"
    assert refused.value.reason == "Slack refused the app's token (invalid_auth)"


def test_a_slow_answer_refuses_as_a_timeout(slack: SlackStandIn, clock: Clock) -> None:
    # Given Slack slower than the click's client waits
    slack.fail("usergroups.users.list", hang=30)
    quick = client(slack, timeout=0.2)
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(BOB, [ADMINS], UserGroups(lambda: quick, clock=clock))
    assert (refused.value.code, refused.value.reason) == ("timeout", "Slack did not answer in time")


def test_a_dropped_connection_refuses_and_is_not_resent(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    slack.fail("usergroups.users.list", status=0)
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(BOB, [ADMINS], groups)
    assert refused.value.code == "no_answer"
    assert refused.value.reason.startswith("Slack could not be reached")
    assert lookups(slack) == [ADMINS]


def test_a_failure_is_kept_for_30_seconds_then_asked_again(
    slack: SlackStandIn, groups: UserGroups, clock: Clock
) -> None:
    # Given Slack failing once
    slack.fail("usergroups.users.list", status=500)
    with pytest.raises(UserGroupUnreadable) as first:
        may_decide(BOB, [ADMINS], groups)
    assert first.value.code == "internal_error"
    # Then clicks within 30 seconds are refused without asking again
    clock.now += 29
    with pytest.raises(UserGroupUnreadable) as again:
        may_decide(BOB, [ADMINS], groups)
    assert again.value.reason == first.value.reason
    assert lookups(slack) == [ADMINS]
    # And after 30 seconds Slack is asked again, and answers
    clock.now += 1
    assert may_decide(BOB, [ADMINS], groups) is True
    assert lookups(slack) == [ADMINS, ADMINS]


def test_a_rate_limit_is_waited_out_as_long_as_slack_asks(
    slack: SlackStandIn, groups: UserGroups, clock: Clock
) -> None:
    # Given Slack rate-limiting the lookup for 90 seconds
    slack.fail("usergroups.users.list", status=429, retry_after=90)
    with pytest.raises(UserGroupUnreadable) as limited:
        may_decide(BOB, [ADMINS], groups)
    assert limited.value.code == "ratelimited"
    assert "try again shortly" in limited.value.reason
    # Then Slack is not asked again before the 90 seconds are up
    clock.now += 89
    with pytest.raises(UserGroupUnreadable):
        may_decide(BOB, [ADMINS], groups)
    assert lookups(slack) == [ADMINS]
    clock.now += 1
    assert may_decide(BOB, [ADMINS], groups) is True


def test_stale_members_are_not_used_when_a_new_lookup_fails(
    slack: SlackStandIn, groups: UserGroups, clock: Clock
) -> None:
    # Given members known from a lookup, and Slack failing once they are too old
    assert may_decide(BOB, [ADMINS], groups) is True
    clock.now += 300
    slack.fail("usergroups.users.list", error="fatal_error")
    # Then the click is refused: the old members are not taken instead
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(BOB, [ADMINS], groups)
    assert (refused.value.code, refused.value.reason) == (
        "fatal_error",
        "Slack answered fatal_error",
    )


def test_an_unreadable_group_does_not_block_a_user_listed_directly(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    slack.usergroups_scope = False
    assert may_decide(CAROL, ["S0GONE", CAROL], groups) is True


def test_an_unreadable_group_does_not_block_a_member_of_another_group(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    # Given approvers listing a group Slack does not know before the on-call group
    # When Carol, on call, clicks
    assert may_decide(CAROL, ["S0GONE", ONCALL], groups) is True
    # Then both were asked for, and the unknown one did not refuse her
    assert lookups(slack) == ["S0GONE", ONCALL]


def test_an_unreadable_group_refuses_someone_no_other_entry_allows(
    slack: SlackStandIn, groups: UserGroups
) -> None:
    # Given the admins readable and another group not
    # When Carol, who is in neither listed readable group, clicks
    with pytest.raises(UserGroupUnreadable) as refused:
        may_decide(CAROL, [ADMINS, "S0GONE", BOB], groups)
    # Then she is refused because of the group that could not be read
    assert refused.value.group_id == "S0GONE"


def test_the_client_is_built_only_when_slack_must_be_asked(
    slack: SlackStandIn, clock: Clock
) -> None:
    built: list[WebClient] = []

    def factory() -> WebClient:
        built.append(client(slack))
        return built[-1]

    groups = UserGroups(factory, clock=clock)
    assert may_decide(ALICE, [ALICE, ADMINS], groups) is True
    assert built == []
    groups.members(ADMINS)
    groups.members(ADMINS)
    assert len(built) == 1
