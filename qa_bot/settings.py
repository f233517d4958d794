"""One settings object for the whole app, read from the environment and `.env`.

Every field is documented in `.env.example`. Names follow the product's conventions: `QA_BOT_*` for
our own settings, and the ecosystem's usual names (`OPENAI_API_KEY`, `OPENAI_BASE_URL`,
`CHROMA_HOST`, `CHROMA_PORT`) where users already know them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from qa_bot.redaction import redact_data, register_secret

# The repository's root in a checkout (site-packages in a wheel install): for the repository's own
# tools (tests, benchmarks, scripts); what the app runs on is found with packaged_folder.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def packaged_folder(name: str) -> Path:
    """`prompts` or `seeds`: installed inside the qa_bot package by a wheel (pyproject.toml maps them
    there), or at the top of the repository, where an editable install reads them in place.

    The checkout is the fallback because setuptools' editable install cannot map a folder without an
    `__init__.py` into qa_bot, and an `__init__.py` in seeds/ would be reported as a skipped file by
    every ingest of the seeds.
    """
    installed = files("qa_bot") / name
    return Path(str(installed)) if installed.is_dir() else PROJECT_ROOT / name


# The packaged embedding model's name, as collections record it (a changed model is caught, not mixed in).
LOCAL_EMBEDDING_NAME = "all-MiniLM-L6-v2 (int8 ONNX, packaged)"

LLMProvider = Literal["local", "openai", "openai-compatible", "extractive"]
EmbeddingProvider = Literal["local", "openai", "openai-compatible"]
DEFAULT_OPENAI_EMBEDDING_MODEL = "text-embedding-3-small"
# What the openai client is given for a server that wants no key (Ollama, vLLM, llama.cpp, an
# embedding server): it accepts any, but the client refuses to send none.
PLACEHOLDER_API_KEY = "not-needed"


def _env(name: str, *aliases: str):
    """Accept `QA_BOT_<NAME>` plus any conventional alias."""
    return AliasChoices(f"QA_BOT_{name}", *aliases)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- storage ---------------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), validation_alias=_env("DATA_DIR"))
    corpus: list[Path] = Field(
        default_factory=lambda: [packaged_folder("seeds")],
        validation_alias=_env("CORPUS"),
        description="Articles the UI ingests on first start when the index is empty.",
    )
    collection: str = Field("qa_bot", min_length=3, max_length=512, validation_alias=_env("COLLECTION"))
    chroma_host: str | None = Field(None, validation_alias=_env("CHROMA_HOST", "CHROMA_HOST"))
    chroma_port: int = Field(8000, validation_alias=_env("CHROMA_PORT", "CHROMA_PORT"))
    # One SQLAlchemy database for the catalog, ingest records, answer log, feedback and reviews
    # (qa_bot/database/engine.py), e.g. postgresql+psycopg://qa:PASSWORD@db-host/qa_bot for a team.
    # Unset: SQLite files in the data directory. A secret: the URL usually holds a password.
    database_url: SecretStr | None = Field(None, validation_alias=_env("DATABASE_URL"))

    # --- embeddings and chunking -----------------------------------------------------------------
    # local: the packaged MiniLM in this process; openai: OpenAI's API; openai-compatible: an embedding
    # server (text-embeddings-inference, vLLM, Ollama, llama.cpp --embedding, infinity) at
    # embedding_base_url, for an archive one machine's CPU embeds too slowly (docs/deployment.md).
    embedding: EmbeddingProvider = Field("local", validation_alias=_env("EMBEDDING"))
    # The model the server serves (openai-compatible: required); openai: text-embedding-3-small.
    embedding_model: str | None = Field(None, validation_alias=_env("EMBEDDING_MODEL"))
    embedding_base_url: str | None = Field(None, validation_alias=_env("EMBEDDING_BASE_URL"))
    # The embedding server's key, if it wants one; openai falls back to OPENAI_API_KEY.
    embedding_api_key: SecretStr | None = Field(None, validation_alias=_env("EMBEDDING_API_KEY"))
    # Texts per request, and requests in flight at once: enough work queued that a GPU server's
    # batches stay full while this process writes the last batch's vectors to Chroma.
    embedding_batch_size: int = Field(64, ge=1, le=2048, validation_alias=_env("EMBEDDING_BATCH_SIZE"))
    embedding_concurrency: int = Field(4, ge=1, le=64, validation_alias=_env("EMBEDDING_CONCURRENCY"))
    # all-MiniLM-L6-v2 reads 256 word-pieces and silently drops the rest. 120 (about 70 words)
    # retrieved better than 200 on RealTime QA and halves the prompt the local model must read
    # (docs/evaluation.md).
    chunk_tokens: int = Field(120, ge=32, le=250, validation_alias=_env("CHUNK_TOKENS"))
    chunk_overlap_tokens: int = Field(24, ge=0, le=120, validation_alias=_env("CHUNK_OVERLAP_TOKENS"))
    # Embed each chunk with its article's title in front (the stored text stays the exact slice).
    embed_titles: bool = Field(True, validation_alias=_env("EMBED_TITLES"))

    # --- ingest ----------------------------------------------------------------------------------
    # The most text one article may have, in MB. News articles are 5-50 KB; on 2 cores 1 MB of text
    # is ~2,100 chunks and ~2 minutes of embedding, and a 30 MB file would hold an ingest for an hour.
    # HTML, PDF and Word files may be ten times this (markup, images); .jsonl is checked per line.
    max_article_mb: float = Field(1.0, gt=0, validation_alias=_env("MAX_ARTICLE_MB"))
    # Read the files that links in an ingested folder point to outside it (`ingest --follow-links`).
    follow_links: bool = Field(False, validation_alias=_env("FOLLOW_LINKS"))

    # --- retrieval -------------------------------------------------------------------------------
    # Passages retrieved per question; their best sentences become the evidence the answerer reads.
    top_k: int = Field(6, ge=1, le=50, validation_alias=_env("TOP_K"))
    fetch_k: int = Field(30, ge=1, le=500, validation_alias=_env("FETCH_K"))
    search_mode: Literal["hybrid", "dense", "keyword"] = Field("hybrid", validation_alias=_env("SEARCH_MODE"))
    relevance_floor: float = Field(0.25, ge=-1, le=1, validation_alias=_env("RELEVANCE_FLOOR"))
    # A hard window before the question's date; 0 leaves only the soft recency preference.
    date_window_days: int = Field(0, ge=0, validation_alias=_env("DATE_WINDOW_DAYS"))
    recency_weight: float = Field(0.5, ge=0, validation_alias=_env("RECENCY_WEIGHT"))

    # --- evidence: what the answerer reads (qa_bot/answering/evidence.py) -----------------------------------
    # About 250 tokens: ~3 s of prompt reading for the embedded model on 2 cores.
    evidence_tokens: int = Field(250, ge=40, le=4000, validation_alias=_env("EVIDENCE_TOKENS"))
    evidence_sentences: int = Field(8, ge=1, le=40, validation_alias=_env("EVIDENCE_SENTENCES"))

    # --- answering -------------------------------------------------------------------------------
    llm: LLMProvider = Field("local", validation_alias=_env("LLM"))
    # pointer: the model gives a short answer and the passage that states it, and the app quotes the
    # passage's sentence (qa_bot/answering/quoting.py); sentence: the model writes a cited sentence, which the
    # verifier checks (qa_bot/answering/verify.py), the answer stage before 2026-12-06, kept to compare.
    answer_style: Literal["pointer", "sentence"] = Field("pointer", validation_alias=_env("ANSWER_STYLE"))
    # How the pointer is asked for: plain, two lines the parser reads (any server); json, the same as a
    # JSON object the server enforces with its schema support (llama.cpp's grammar, OpenAI's
    # structured outputs). docs/performance.md has what each costs on 2 cores.
    answer_format: Literal["plain", "json"] = Field("plain", validation_alias=_env("ANSWER_FORMAT"))
    model: str | None = Field(None, validation_alias=_env("MODEL"))
    openai_api_key: SecretStr | None = Field(None, validation_alias=_env("OPENAI_API_KEY", "OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL", "OPENAI_BASE_URL"))
    local_model_path: Path | None = Field(None, validation_alias=_env("LOCAL_MODEL_PATH"))
    local_context: int = Field(4096, ge=512, validation_alias=_env("LOCAL_CONTEXT"))
    local_threads: int = Field(2, ge=1, validation_alias=_env("LOCAL_THREADS"))
    temperature: float = Field(0.0, ge=0, le=2, validation_alias=_env("TEMPERATURE"))
    max_answer_tokens: int = Field(256, ge=16, validation_alias=_env("MAX_ANSWER_TOKENS"))
    # The limit for one whole answer, from the first request to the model to its last token:
    # connecting, waiting for the first token, streaming and the openai client's retries all count
    # (qa_bot/answering/deadline.py). A per-request limit would let retries and keep-alive streams run on.
    llm_timeout: float = Field(120.0, gt=0, validation_alias=_env("LLM_TIMEOUT"))
    llm_max_retries: int = Field(2, ge=0, validation_alias=_env("LLM_MAX_RETRIES"))
    # Answers the model writes at once; more questions wait in line, first come first served
    # (qa_bot/answering/queue.py). Unset: 1 for the embedded model, no limit for a server (which batches).
    llm_concurrent_answers: int | None = Field(None, ge=1, validation_alias=_env("LLM_CONCURRENT_ANSWERS"))
    # Evaluation only: a model that grades each answer's faithfulness (off unless set). It is served
    # by the same endpoint as the answerer's OpenAI settings (OPENAI_BASE_URL, or OpenAI itself).
    judge_model: str | None = Field(None, validation_alias=_env("JUDGE_MODEL"))
    prompts_dir: Path = Field(packaged_folder("prompts"), validation_alias=_env("PROMPTS_DIR"))

    # Who may use the chat (ui/auth.py). "password": names and scrypt hashes in users_file, managed
    # with `qa-bot users`; "oidc": Streamlit's st.login, configured in .streamlit/secrets.toml.
    # Served beyond this machine, the chat refuses to start with "none" unless no_auth says it is meant.
    auth: Literal["none", "password", "oidc"] = Field("none", validation_alias=_env("AUTH"))
    users_file: Path | None = Field(None, validation_alias=_env("USERS_FILE"))
    no_auth: bool = Field(False, validation_alias=_env("NO_AUTH"))

    @model_validator(mode="after")
    def _register_secrets(self) -> Settings:
        # Every exit (messages, logs, stored rows, reports) blanks these values, whatever their shape.
        for value in self.secret_values():
            register_secret(value)
        return self

    def secret_values(self) -> list[str]:
        """The values of every SecretStr setting (API keys), for scrubbing text that leaves the app."""
        values = (getattr(self, name) for name in type(self).model_fields)
        secrets = [v.get_secret_value() for v in values if isinstance(v, SecretStr) and v.get_secret_value()]
        if self.database_url and (password := _url_password(self.database_url.get_secret_value())):
            secrets.append(password)  # a driver's error may quote it without the rest of the URL
        return secrets

    @property
    def answer_slots(self) -> int | None:
        """How many answers the model writes at once; None: no line (no LLM, or a server's own)."""
        if self.llm == "extractive":
            return None
        return self.llm_concurrent_answers or (1 if self.llm == "local" else None)

    @property
    def embedding_name(self) -> str:
        """The embedding model, as `status` shows it and each Chroma collection records it: vectors of
        two names are never searched together. A server's address is not part of it (a server moves;
        its model's vectors stay the same)."""
        if self.embedding == "local":
            return LOCAL_EMBEDDING_NAME
        return f"{self.embedding}:{self.resolved_embedding_model}"

    @property
    def resolved_embedding_model(self) -> str | None:
        if self.embedding == "openai":
            return self.embedding_model or DEFAULT_OPENAI_EMBEDDING_MODEL
        return self.embedding_model

    @property
    def users_path(self) -> Path:
        return self.users_file or self.data_dir / "users.json"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uses_chroma_server(self) -> bool:
        return bool(self.chroma_host)


def _url_password(url: str) -> str | None:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password
    except Exception:  # not a URL SQLAlchemy can read: the engine will say so when it is used
        return None


@lru_cache
def get_settings() -> Settings:
    return Settings()


# --- the settings an answer was made with -----------------------------------------------------------

# Settings that name a server: the answer log, which reviewers read, leaves them out.
SERVER_ADDRESSES = ("openai_base_url", "embedding_base_url", "chroma_host", "chroma_port", "database_url")
_URL_PASSWORD = re.compile(r"(://)[^/@\s]+@")


def settings_snapshot(settings: Settings, *, addresses: bool = False, **question_options: Any) -> dict:
    """The settings that shaped an answer, as JSON, for the answer log and an evaluation's config.

    Every setting, with no secret in it: SecretStr fields come out masked, a password inside a URL
    as ***, and every registered secret is blanked wherever else it appears. The servers'
    addresses only with `addresses` (an evaluation records where it ran). `question_options` (k,
    since, sources, ...) are added, dates as ISO text.
    """
    snapshot = settings.model_dump(mode="json")
    for name, value in snapshot.items():
        if isinstance(value, str):
            snapshot[name] = _URL_PASSWORD.sub(r"\1***@", value)
    if not addresses:
        for name in SERVER_ADDRESSES:
            snapshot.pop(name, None)
    snapshot.update({name: _jsonable(value) for name, value in question_options.items()})
    return redact_data(snapshot)


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    return value.isoformat() if hasattr(value, "isoformat") else value
