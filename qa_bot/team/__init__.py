"""Team: what a newsroom shares around the chat.

users.py       the small-team login: users, hashed passwords, a brake on guessing
answer_log.py  every answer the chat gives, its thumbs, and the reviewers' verdicts
reviews.py     what those verdicts are worth: the verifier's agreement, evaluation cases
"""
