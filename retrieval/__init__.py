"""FAQ retrieval: knowledge base, language ID, embedders, lexical + FAISS index, answers.

Reads top to bottom as kb → langid → embed → lexical/index → fuse → answer.
"""

from retrieval.answer import Retriever
from retrieval.config import RetrievalSettings
from retrieval.errors import IndexNotReadyError, KnowledgeBaseError, QueryError, RetrievalError
from retrieval.facilities import Facilities, Facility, NearbyFacility, haversine_m, load_facilities
from retrieval.kb import LANGUAGES, Department, Entry, KnowledgeBase, load_kb
from retrieval.langid import LanguageGuess, detect_language, normalize_language_code
from retrieval.types import Answer, Contact, FaqHit, Suggestion

__all__ = [
    "LANGUAGES",
    "Answer",
    "Contact",
    "Department",
    "Entry",
    "Facilities",
    "Facility",
    "FaqHit",
    "IndexNotReadyError",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "LanguageGuess",
    "NearbyFacility",
    "QueryError",
    "RetrievalError",
    "RetrievalSettings",
    "Retriever",
    "Suggestion",
    "detect_language",
    "haversine_m",
    "load_facilities",
    "load_kb",
    "normalize_language_code",
]
