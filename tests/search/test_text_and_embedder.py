"""The pieces search is made of: identifier-aware terms, the embedded text, and the embedder's batching."""

from __future__ import annotations

import asyncio
import copy
import os

import numpy as np
import pytest

from hub.search import lexical
from hub.search.backends import QUERY_STOP_WEIGHT, OnnxEncoder, TorchEncoder, load_encoders, token_weights
from hub.search.documents import Entry, texts, words
from hub.search.embedder import Embedder


def test_terms_split_identifiers_drop_stop_words_and_meet_plurals() -> None:
    assert words("getWeatherForecast") == "get weather forecast"
    assert words("PDF2Text_converter-v2") == "pdf 2 text converter v 2"
    assert lexical.terms("Convert the PDF files to text") == ["convert", "pdf", "file", "text"]
    assert lexical.terms("resizeImages") == lexical.terms("resize image")
    assert lexical.terms("classes addresses boxes running") == ["class", "address", "box", "run"]
    assert lexical.terms("call the billing system") == ["call", "bill", "system"]  # content words stay


def test_sparse_vectors_are_deterministic_and_saturate_repeats() -> None:
    indices, values = lexical.document_vector("weather weather weather forecast")
    assert indices == sorted(indices) and len(indices) == 2
    weight = dict(zip(indices, values, strict=True))
    forecast, weather = (lexical.query_vector(w)[0][0] for w in ("forecast", "weather"))
    assert weight[forecast] < weight[weather] < 3 * weight[forecast]  # BM25: more, but far less than linear
    assert lexical.query_vector("the weather, the WEATHER") == ([weather], [1.0])
    assert sorted(lexical.query_vector("weather forecast")[1]) == [0.5 ** 0.5] * 2  # unit length over terms
    assert lexical.query_vector("the of and") == ([], [])


def test_texts_and_payload_track_what_was_embedded() -> None:
    text = texts("mail.send_email", None, "Send an email.", {
        "type": "object", "properties": {"to": {"type": "string", "description": "recipient address"}}})
    assert text.document == "Send an email. Parameters: to (recipient address)"
    assert text.label == "mail send email"
    assert text.lexical == "mail send email Send an email. to (recipient address)"
    assert texts("x", "Convert units", "Convert.", None).label == "Convert units, x"
    entry = Entry(kind="tool", key="m.send_email", source="m", state="approved", grants=("tool:m.send_email",),
                  name="m.send_email", title=None, description="Send an email.", texts=text)
    same = entry.payload("model-a", lexical.VERSION)
    assert same == entry.payload("model-a", lexical.VERSION)
    assert entry.payload("model-b", lexical.VERSION)["index_key"] != same["index_key"]  # a new model re-embeds
    quarantined = Entry(**{**entry.__dict__, "state": "quarantined"}).payload("model-a", lexical.VERSION)
    assert quarantined["index_key"] == same["index_key"] and quarantined["sig"] != same["sig"]  # payload only
    assert (same["visible"], quarantined["visible"]) == ("tool", "-")  # what the query filter matches


@pytest.fixture(scope="module")
def encoders(tmp_path_factory) -> dict[str, object]:
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    cache = tmp_path_factory.mktemp("models")
    return {backend: load_encoders("all-MiniLM-L6-v2", max_seq_length=128, threads=None, backend=backend,
                                   quantize=False, cache_dir=cache).documents for backend in ("onnx", "torch")}


async def test_concurrent_queries_share_one_forward_pass(encoders) -> None:
    embedder = Embedder(encoders["onnx"], model="all-MiniLM-L6-v2")
    batches: list[int] = []
    encode = embedder._encode_queries

    def counting(texts: list[str]) -> np.ndarray:
        batches.append(len(texts))
        return encode(texts)

    embedder._encode_queries = counting  # type: ignore[method-assign]
    try:
        queries = [f"find a tool number {i}" for i in range(16)]
        vectors = await asyncio.gather(*(embedder.query(q) for q in queries))
        assert len(batches) <= 2 and sum(batches) == 16  # the first alone, the other 15 together
        assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 for v in vectors)
        alone = encode(["find a tool number 7"])[0]
        assert float(np.dot(alone, vectors[7])) > 0.999  # batching never changes a query's vector
        await embedder.query("find a tool number 7")
        assert sum(batches) == 16  # repeated queries come from the cache
        documents = [("a much longer document " * (i % 7)) + f"number {i}" for i in range(70)]
        docs = await embedder.documents(documents)
        assert docs.shape == (70, embedder.dimension) and embedder.documents_embedded == 70
        # sorted into batches by length, returned in the order given
        assert float(np.dot(docs[40], encode([documents[40]])[0])) > 0.999
    finally:
        embedder.close()


def test_query_pooling_weighs_content_words_over_stop_words_and_punctuation(encoders) -> None:
    plain = encoders["onnx"]
    text = "Could you please find the weather forecast in Paris, for me?"
    encoding = plain.tokenizer.encode(text)
    weights = token_weights(encoding.word_ids, encoding.offsets, text, 0.25)
    tokens = encoding.tokens
    assert [t for t, w in zip(tokens, weights, strict=True) if w == 1.0] == ["weather", "forecast", "paris"]
    assert weights[tokens.index("[CLS]")] == weights[tokens.index(",")] == weights[tokens.index("the")] == 0.25
    nothing = plain.tokenizer.encode("the of and")
    assert token_weights(nothing.word_ids, nothing.offsets, "the of and", 0.25).tolist() == [1.0] * 5  # plain mean

    queries = copy.copy(plain)
    queries.stop_weight = QUERY_STOP_WEIGHT
    wordy = "can you help me with something about the weather for it"
    weather = plain.encode(["weather"])[0]
    pooled, mean = queries.encode([wordy])[0], plain.encode([wordy])[0]
    assert abs(float(np.linalg.norm(pooled)) - 1.0) < 1e-5
    assert float(pooled @ weather) > float(mean @ weather) + 0.05  # the intent, not the wording
    assert np.abs(queries.encode(["the of and"]) - plain.encode(["the of and"])).max() < 1e-6
    # a batch pads its texts; the padding never counts
    assert np.abs(queries.encode([wordy, "weather"])[1] - queries.encode(["weather"])[0]).max() < 1e-5


def test_onnx_and_torch_give_the_same_vectors(encoders) -> None:
    onnx, torch = encoders["onnx"], encoders["torch"]
    assert isinstance(onnx, OnnxEncoder) and isinstance(torch, TorchEncoder)
    texts = ["Convert a PDF file to plain text.", "weather", "a long description " * 80]  # the last is truncated
    assert np.abs(onnx.encode(texts) - torch.encode(texts)).max() < 1e-4
    # the same vectors keep the same index keys: switching backends re-embeds nothing
    assert Embedder(onnx, model="m").model_id == Embedder(torch, model="m").model_id


def test_the_onnx_export_is_made_once_and_int8_documents_are_another_model(tmp_path) -> None:
    def load(**options):
        return load_encoders("all-MiniLM-L6-v2", max_seq_length=128, threads=1, cache_dir=tmp_path, **options)

    plain = load(quantize=False)
    exported = sorted(tmp_path.glob("*/model.onnx"))
    assert len(exported) == 1 and not list(tmp_path.glob(".export-*"))  # no leftover work directory
    stamp = exported[0].stat().st_mtime_ns
    default = load()  # the onnx default: int8 documents, fp32 queries
    assert exported[0].stat().st_mtime_ns == stamp  # reused, not re-exported
    assert sorted(p.name for p in exported[0].parent.glob("*.onnx")) == ["model.int8.onnx", "model.onnx"]
    text = ["send an email to a colleague"]
    assert np.abs(default.queries.encode(text) - plain.queries.encode(text)).max() < 1e-6  # queries stay fp32
    assert float(np.dot(default.documents.encode(text)[0], plain.documents.encode(text)[0])) > 0.97  # close
    # other document vectors mean another index key (re-embedding); the query side does not enter it
    assert Embedder(default.documents, model="m").model_id != Embedder(plain.documents, model="m").model_id


def test_the_model_loads_without_the_network(encoders, tmp_path) -> None:
    """HF_HUB_OFFLINE is forced: an unknown hub name fails at once instead of trying to download."""
    assert encoders["onnx"].dimension == encoders["torch"].dimension == 384
    for backend in ("onnx", "torch"):
        with pytest.raises(OSError):
            load_encoders("sentence-transformers/not-a-bundled-model", max_seq_length=128, threads=None,
                          backend=backend, cache_dir=tmp_path)
