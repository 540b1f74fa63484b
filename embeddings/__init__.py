"""The vector side of the product: encoders and a FAISS vector index. Knows nothing about news."""

from embeddings.encoder import (
    Encoder,
    SentenceTransformerEncoder,
    load_encoder,
    resolve_model,
)
from embeddings.faiss_index import VectorIndex

__all__ = ["Encoder", "SentenceTransformerEncoder", "VectorIndex", "load_encoder", "resolve_model"]
