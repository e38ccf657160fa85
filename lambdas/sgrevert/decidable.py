"""Whether a change can be denied: whether it added access.

Pure. An Authorize always can. A Revoke, a modification that only narrows the rules it
edited, or a prefix-list edit that only removed entries is posted for information,
since sgrevert never adds access back. A modification whose earlier value is not on
record is decidable: nobody can tell it narrowed.
"""

from __future__ import annotations

from sgrevert.model import MODIFY_RULES_EVENT, PREFIX_LIST_EVENT, REVERTIBLE_EVENTS, Change
from sgrevert.rule_cover import allows_no_more


def decidable(change: Change) -> bool:
    if change.event_name in REVERTIBLE_EVENTS:
        return True
    if change.event_name == PREFIX_LIST_EVENT:
        return change.prefix_list is not None and bool(change.prefix_list.added)
    if change.event_name == MODIFY_RULES_EVENT:
        return any(not narrows(change, index) for index in range(len(change.rules)))
    return False


def narrows(change: Change, index: int) -> bool:
    """The change's `index`-th modified rule lets in only what its recorded earlier value
    did; False when no earlier value is on record."""
    rule = change.rules[index]
    before = change.prior_of(rule)
    return before is not None and allows_no_more(rule, before.rule)
