"""The pieces search is made of: identifier-aware terms, the embedded text, and the embedder's batching."""

from __future__ import annotations

import asyncio
import os

import numpy as np
import pytest

from hub.search import lexical
from hub.search.documents import Entry, texts, words
from hub.search.embedder import Embedder, load_model


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
    assert sorted(lexical.query_vector("weather forecast")[1]) == [0.5, 0.5]  # a mean over the query's terms
    assert lexical.query_vector("the of and") == ([], [])


def test_texts_and_payload_track_what_was_embedded() -> None:
    text = texts("mail.send_email", None, "Send an email.", {
        "type": "object", "properties": {"to": {"type": "string", "description": "recipient address"}}})
    assert text.document == "Send an email. (mail send email) Parameters: to (recipient address)"
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


@pytest.fixture(scope="module")
def model():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    return load_model("all-MiniLM-L6-v2", max_seq_length=128, threads=None)


async def test_concurrent_queries_share_one_forward_pass(model) -> None:
    embedder = Embedder(model, model_id="all-MiniLM-L6-v2")
    batches: list[int] = []
    encode = embedder._encode

    def counting(texts: list[str]) -> np.ndarray:
        batches.append(len(texts))
        return encode(texts)

    embedder._encode = counting  # type: ignore[method-assign]
    try:
        queries = [f"find a tool number {i}" for i in range(16)]
        vectors = await asyncio.gather(*(embedder.query(q) for q in queries))
        assert len(batches) <= 2 and sum(batches) == 16  # the first alone, the other 15 together
        assert all(abs(float(np.linalg.norm(v)) - 1.0) < 1e-4 for v in vectors)
        alone = encode(["find a tool number 7"])[0]
        assert float(np.dot(alone, vectors[7])) > 0.999  # batching never changes a query's vector
        await embedder.query("find a tool number 7")
        assert sum(batches) == 16  # repeated queries come from the cache
        docs = await embedder.documents([f"document {i}" for i in range(70)])
        assert docs.shape == (70, embedder.dimension) and embedder.documents_embedded == 70
    finally:
        embedder.close()


def test_the_model_loads_without_the_network(model) -> None:
    """HF_HUB_OFFLINE is forced: an unknown hub name fails at once instead of trying to download."""
    assert model.get_embedding_dimension() == 384
    with pytest.raises(OSError):
        load_model("sentence-transformers/not-a-bundled-model", max_seq_length=128, threads=None)
