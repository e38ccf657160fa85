"""Slack users and user groups named in the policy (approvers, reminders' mentions).

Pure. Ids, not names: `U…`/`W…` for users, `S…` for user groups.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,31}")
SLACK_USER_GROUP = re.compile(r"S[A-Z0-9]{2,31}")
GROUP_PREFIX = "S"  # user group ids; user ids start with U or W


def is_group(approver: str) -> bool:
    """An approver that is a user group (its members decide), not a user."""
    return approver.startswith(GROUP_PREFIX)


def read_ids(items: Sequence[Any], path: str, errors: list[str]) -> tuple[str, ...]:
    """The user and user group ids in `items` (a policy list at `path`), each once; one
    message in `errors` for each item that is not one, or is listed twice."""
    ids: list[str] = []
    for index, item in enumerate(items):
        if not isinstance(item, str) or not (
            SLACK_USER.fullmatch(item) or SLACK_USER_GROUP.fullmatch(item)
        ):
            errors.append(
                f"{path}[{index}] {item!r} is not a Slack user id (U…, W…) or user group "
                "id (S…): use the id, not a name or handle"
            )
        elif item in ids:
            errors.append(f"{path}[{index}] {item!r} is listed twice")
        else:
            ids.append(item)
    return tuple(ids)
