"""Block Kit to terminal text, so the demo can show what the channel would show.

Covers what sgrevert posts: header, section (text and fields, shown two to a line),
context, divider and actions (buttons as `[ Approve ]`), with mrkdwn's bold, italics,
code, mentions, links and `<!date^…|fallback>`. Colour is used only when asked
(the demo asks when stdout is a terminal).
"""

from __future__ import annotations

import html
import itertools
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

EMOJI = {
    "hourglass": "⌛",
    "ballot_box_with_check": "☑️ ",
    "bell": "🔔",
    "large_yellow_circle": "🟡",
    "information_source": "\u2139\ufe0f ",
    "white_check_mark": "✅",
    "hourglass_flowing_sand": "⏳",
    "leftwards_arrow_with_hook": "↩️ ",
    "warning": "⚠️ ",
    "x": "❌",
    # approvals for a while: the reminder, the expiry
    "alarm_clock": "⏰",
    "stopwatch": "⏱️ ",
    # risk marks, and the context section's
    "rotating_light": "🚨",
    "red_circle": "🔴",
    "large_orange_diamond": "🔶",
    "white_circle": "⚪",
    "globe_with_meridians": "🌐",
    "grey_question": "❔",
    "mute": "🔇",
    "inbox_tray": "📥",
}

_RESET = "\033[0m"
_STYLES = {
    "bold": "\033[1m",
    "dim": "\033[2m",
    "italic": "\033[3m",
    "code": "\033[36m",
    "header": "\033[1;4m",
    "primary": "\033[1;32m",
    "danger": "\033[1;31m",
    "mention": "\033[1;34m",
}


@dataclass
class Renderer:
    colour: bool = False
    width: int = 100
    users: Mapping[str, str] = field(default_factory=dict)  # Slack user or group id -> handle

    def style(self, name: str, text: str) -> str:
        return f"{_STYLES[name]}{text}{_RESET}" if self.colour else text

    # mrkdwn --------------------------------------------------------------------------------

    def mrkdwn(self, text: str) -> str:
        def angle(match: re.Match[str]) -> str:
            inner = match.group(1)
            if inner.startswith("@"):
                user = inner[1:].split("|", 1)[0]
                return self.style("mention", "@" + self.users.get(user, user))
            if inner.startswith("#"):
                channel = inner[1:].split("|")
                return "#" + (channel[1] if len(channel) > 1 else channel[0])
            if inner.startswith("!subteam^"):
                group, _, label = inner.removeprefix("!subteam^").partition("|")
                return self.style("mention", label or "@" + self.users.get(group, group))
            if inner.startswith("!"):
                # <!date^epoch^format|fallback>, <!here>...
                return inner.split("|", 1)[1] if "|" in inner else "@" + inner[1:]
            target, _, label = inner.partition("|")
            return label or target

        text = re.sub(r"<([^<>]+)>", angle, text)
        text = re.sub(r"`([^`]+)`", lambda m: self.style("code", m.group(1)), text)
        text = re.sub(
            r"(?<![\w*])\*([^*\n]+)\*(?![\w*])", lambda m: self.style("bold", m.group(1)), text
        )
        text = re.sub(
            r"(?<![\w_])_([^_\n]+)_(?![\w_])", lambda m: self.style("italic", m.group(1)), text
        )
        text = re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), text)
        return html.unescape(text)  # Slack's &amp; &lt; &gt;, after markup is resolved

    def text_object(self, obj: Mapping[str, Any] | None) -> str:
        if not obj:
            return ""
        raw = str(obj.get("text", ""))
        if obj.get("type") == "mrkdwn":
            return self.mrkdwn(raw)
        return re.sub(r":([a-z0-9_+-]+):", lambda m: EMOJI.get(m.group(1), m.group(0)), raw)

    # blocks --------------------------------------------------------------------------------

    def message(self, blocks: Sequence[Mapping[str, Any]] | None, text: str | None = None) -> str:
        """A whole message, one block after another."""
        if not blocks:
            return self.mrkdwn(text or "")
        lines: list[str] = []
        for block in blocks:
            lines.extend(self.block(block))
        return "\n".join(lines)

    def block(self, block: Mapping[str, Any]) -> list[str]:
        kind = block.get("type")
        if kind == "header":
            return [self.style("header", self.text_object(block.get("text")))]
        if kind == "divider":
            return [self.style("dim", "─" * min(self.width, 60))]
        if kind == "context":
            parts = [self.text_object(e) for e in block.get("elements", []) if "text" in e]
            return [self.style("dim", "  ") + " ".join(parts)]
        if kind == "actions":
            return ["  " + "  ".join(self.button(e) for e in block.get("elements", []))]
        if kind == "section":
            lines: list[str] = []
            if block.get("text"):
                lines.extend(self.text_object(block["text"]).splitlines())
            fields = [self.text_object(f) for f in block.get("fields", [])]
            lines.extend(self._fields(fields))
            return lines
        return [f"[{kind} block]"]

    def button(self, element: Mapping[str, Any]) -> str:
        text = self.text_object(element.get("text") or element.get("placeholder"))
        label = f"[ {text} ▾ ]" if element.get("type") == "static_select" else f"[ {text} ]"
        style = element.get("style")
        return self.style(style, label) if style in ("primary", "danger") else label

    def _fields(self, fields: list[str]) -> list[str]:
        """Fields as `Label: value`, two to a line when they fit, like Slack's two columns."""
        cells = []
        for text in fields:
            label, _, value = text.partition("\n")
            cells.append(f"{label}: {value}" if value else label)
        lines: list[str] = []
        column = self.width // 2
        for left, right in itertools.zip_longest(cells[::2], cells[1::2], fillvalue=""):
            if right and _visible(left) < column - 2 and _visible(right) < column:
                lines.append(left + " " * (column - _visible(left)) + right)
            else:
                lines.extend(_wrap(left, self.width))
                if right:
                    lines.extend(_wrap(right, self.width))
        return lines


def _visible(text: str) -> int:
    return len(re.sub(r"\033\[[0-9;]*m", "", text))


def _wrap(text: str, width: int) -> list[str]:
    if _visible(text) <= width:
        return [text]
    return textwrap.wrap(text, width=width, subsequent_indent="    ", break_on_hyphens=False)


def message_texts(blocks: Sequence[Mapping[str, Any]] | None, text: str | None = None) -> str:
    """Every raw text of a message, its fallback first, one per line: what checks that a
    message says something search (rendering would change the mrkdwn)."""
    texts = [text or ""]

    def collect(value: Any) -> None:
        if isinstance(value, Mapping):
            if isinstance(value.get("text"), str):
                texts.append(value["text"])
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(list(blocks or []))
    return "\n".join(texts)
