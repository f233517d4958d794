"""What the CLI prints is data: article text and model output reach the terminal as text only.

An article (or a model repeating one) can carry terminal escape sequences: a window-title change
(ESC ] 0 ; ... BEL), colours (ESC [ 31 m), a hyperlink whose text hides where it goes (OSC 8), or
8-bit controls (CSI 0x9b, OSC 0x9d) that some terminals obey. `TerminalConsole` drops every control
character from the text it renders, after rich has laid it out and before rich adds its own
styling, so the CLI's colours still work and nothing else does. It also prints no hyperlinks at all
(the CLI makes none, so a `[link=...]` that slipped into markup is inert) and blanks secrets.

Markup is the other door: untrusted text goes to rich as `Text` or through `rich.markup.escape`,
never as markup; the console is the net under that rule.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment

from qa_bot.redaction import redact_data, redact_known

# Bidirectional overrides and isolates reorder what a terminal shows ("Trojan Source"), so the text
# read on screen differs from the text in the article.
_BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_KEPT = "\n\t"
_UNSAFE = re.compile(
    "["
    + "".join(re.escape(chr(c)) for c in [*range(0x00, 0x20), *range(0x7F, 0xA0)] if chr(c) not in _KEPT)
    + _BIDI_CONTROLS
    + "]"
)


def strip_control_characters(text: str) -> str:
    """The text without C0/C1 control characters (line breaks and tabs kept) or bidi overrides."""
    return _UNSAFE.sub("", text)


class TerminalConsole(Console):
    """A rich Console whose output holds no control characters but its own styling and cursor moves."""

    def render(self, renderable: RenderableType, options: ConsoleOptions | None = None) -> Iterable[Segment]:
        for segment in super().render(renderable, options):
            if segment.control:  # rich's own cursor movements (Live), not text
                yield segment
                continue
            style = segment.style.clear_meta_and_links() if segment.style else segment.style
            yield Segment(redact_known(strip_control_characters(segment.text)), style)


def json_for_terminal(data: Any) -> str:
    """JSON for a terminal: the data exact, secrets blanked, every control character \\u-escaped.

    json.dumps escapes C0 controls itself, but with ensure_ascii=False it writes DEL and the 8-bit
    controls (0x7f-0x9f) raw; those are escaped here, which JSON allows for any character.
    """
    text = json.dumps(redact_data(data), ensure_ascii=False, indent=2)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)
