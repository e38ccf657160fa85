"""What one detector run did: returned by the handler and logged."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RunReport:
    """What one run did; returned by the handler and logged."""

    window_start: str | None = None
    window_end: str | None = None
    rows: int = 0
    recorded: int = 0
    already_recorded: int = 0
    skipped: int = 0
    posted: int = 0
    post_failed: int = 0
    left_unposted: int = 0
    messages: int = 0  # Slack messages posted, a group message counting once
    ignored: int = 0  # recorded IGNORED by a policy ignore rule
    held: int = 0  # recorded below min_risk_to_post: not posted, still decidable
    auto_reverted: int = 0  # denied by policy and handed to the responder's revert
    summarized: int = 0  # over the run's message cap: named in the summary, posted later
    stuck_reverts: int = 0  # Denies whose revert never finished, now REVERT_FAILED
    late_expiries: int = 0  # approvals for a while past their deadline, handed to the responder
    reminders_sent: int = 0  # missed reminders handed to the responder
    undecided_overdue: int = 0  # undecided reminders and fail-closed denies handed over late
    skipped_reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
