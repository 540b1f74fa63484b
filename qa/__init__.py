"""Question answering over news archives: extractive, cited answers from your articles."""

from qa.assistant import Assistant, CollectionInfo, ask
from qa.config import Settings
from qa.errors import QAError
from qa.types import Answer, Article, Chunk, Citation, Hit

__all__ = ["Answer", "Article", "Assistant", "Chunk", "Citation", "CollectionInfo", "Hit", "QAError", "Settings", "ask"]
