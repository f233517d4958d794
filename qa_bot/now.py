"""What "now" means: the words that tie a question or a claim to the day it is asked, and how old an
article may be to speak for them.

One vocabulary for the three places that ask: retrieval favours recent articles for a question about
now, the answer stage dates an answer to a question about time ("As of 12 March 2023, ..."), and the
verifier refuses a claim about "this week" that only an older article makes.
"""

from __future__ import annotations

import re

STALE_DAYS = 30  # an article older than this no longer speaks for "this month", "currently", "right now"
WEEK_DAYS = 7  # nor, older than this, for "this week", "today", "yesterday", "tonight"

# A span of time counted back from today ("this week", "last month").
_PERIOD = r"\b(?:this|last|past) (?:week|weekend|month|year)\b"
# A word for the newest state of things ("latest", "currently", "so far").
_MOMENT = r"\b(?:latest|recent(?:ly)?|newest|current(?:ly)?|now|today|yesterday|so far)\b"
# "new" and "just" only in lower case: "New Delhi" and "Just Stop Oil" are names, not cues.
_ABOUT_NOW = re.compile(rf"{_PERIOD}|{_MOMENT}|(?-i:\b(?:just|new)\b)", re.IGNORECASE)
_ABOUT_TIME = re.compile(
    rf"^\s*when\b|\b(?:what|which) (?:day|date|month|year|time)\b|{_PERIOD}|{_MOMENT}", re.IGNORECASE
)

# Only the cues that mean "now" in a claim: "last month" in a copied sentence is relative to its own
# article. Each with the oldest article that can still say it.
_CLAIM_CUE_DAYS = {
    "this week": WEEK_DAYS,
    "this weekend": WEEK_DAYS,
    "today": WEEK_DAYS,
    "yesterday": WEEK_DAYS,
    "tonight": WEEK_DAYS,
    "this month": STALE_DAYS,
    "currently": STALE_DAYS,
    "right now": STALE_DAYS,
}
_CLAIM_CUE = re.compile(r"\b(?:" + "|".join(map(re.escape, _CLAIM_CUE_DAYS)) + r")\b", re.IGNORECASE)


def asks_about_now(question: str) -> bool:
    """The question wants the newest state of things ("this week", "latest", "who is the new ...")."""
    return bool(_ABOUT_NOW.search(question))


def asks_about_time(question: str) -> bool:
    """The answer depends on when it was reported: "when", "which day", "this week", "latest"."""
    return bool(_ABOUT_TIME.search(question))


def claim_now_cue(claim: str) -> tuple[str, int] | None:
    """The claim's "now" cue as written, and how many days old an article may be to say it."""
    match = _CLAIM_CUE.search(claim)
    return (match.group(), _CLAIM_CUE_DAYS[match.group().lower()]) if match else None
