"""The request the LLM tests send: a seed question with two numbered passages.

The scripted fakellm (tests/fakellm.yaml) and the embedded local model both answer it; shared by
test_llm.py and test_local_llm.py.
"""

from __future__ import annotations

from langchain_core.messages import HumanMessage, SystemMessage

SEED_QUESTION = "On which day did the call between Jaishankar and Blinken take place?"
PASSAGES = (
    "[1] External Affairs Minister S Jaishankar had a conversation with the US Secretary of State "
    "Antony Blinken on the telephone, on Sunday. Both diplomats discussed regional and global issues.\n"
    "[2] Earlier in March, Jaishankar hosted Blinken in New Delhi on the sidelines of the G20 "
    "Foreign Ministers' Meeting."
)


def rag_messages(question: str = SEED_QUESTION) -> list:
    return [
        # "in one sentence" matters: without it the 1.5B local model answers with a bare "[1]".
        SystemMessage(
            "Answer the question in one sentence, using only the numbered passages. End the "
            "sentence with the passage number in square brackets, e.g. [2]."
        ),
        HumanMessage(f"Passages:\n{PASSAGES}\n\nQuestion: {question}"),
    ]
