"""qa-bot: cited answers over a corpus of news articles.

The folders are the pipeline, in the order a question meets them (an arrow only ever points back to
an earlier stage; tests/test_architecture.py checks it):

ingest/       article files -> Article (text, title, date, source)
index/        Article -> chunks, vectors in Chroma, a BM25 keyword index, the catalog; search
answering/    passages -> evidence sentences -> a model's pointer -> a quoted, verified Answer
team/         who may use the chat, the answer log, the reviewers' verdicts
evaluation/   fixed question sets through the service, scored and reported

service.py    QABot: the one object the CLI, the chat UI (ui/) and the evaluation call
cli.py        `qa-bot ...`

Shared by every stage: settings.py (one settings object), redaction.py (secrets blanked at every
exit), records.py (the one JSON form of what leaves the app), text.py (sentences and content words),
now.py (what "this week" and "latest" mean), database/ (the app's SQL tables and their migrations),
terminal.py and missing_package.py (what the CLI says).
"""
