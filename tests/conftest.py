"""Fixtures for every test, registered as plugins from tests/fixtures/ (see its modules' docstrings):

- tests/fixtures/servers.py: a real `chroma run` server (`chroma_server`) and PostgreSQL;
- tests/fixtures/llm_servers.py: scripted, refusing and never-answering OpenAI-compatible servers;
- tests/fixtures/settings.py: Settings and an app environment that ignore the developer's machine.
"""

import pytest

# A helper module's asserts get pytest's rewriting (values shown on failure) only when registered
# before it is imported.
pytest.register_assert_rewrite("tests.fixtures.article_files")

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.llm_servers",
    "tests.fixtures.settings",
]
