"""Errors raised by the retrieval package; each names the bad value and what was expected."""

from __future__ import annotations


class RetrievalError(Exception):
    """Base class of every retrieval error."""


class KnowledgeBaseError(RetrievalError):
    """The knowledge base could not be loaded; the message names file and line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:20])
        more = f"\n… and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"knowledge base has {len(problems)} problem(s):\n{shown}{more}")


class IndexNotReadyError(RetrievalError):
    """A search was made before warm_up() built or loaded the index."""


class QueryError(RetrievalError):
    """The query cannot be searched (empty, too long)."""
