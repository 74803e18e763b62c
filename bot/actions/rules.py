"""The rules the forms apply, as the knowledge base states them: pure functions, no Rasa.

Kept apart from the actions so that tests (and a city changing its rules) find them in one
place. The KB entries remain the source of truth for residents; these follow them:
``childcare.nursery-application`` (April entry closes December 10 of the year before, entry
during the year on the 10th of the month before) and ``relocation.migration-support-grant``
(from Tokyo's 23 wards, apply within one year of moving in, work or start a business here).
"""

from typing import Optional, Tuple

# Nursery schools take children until they start school.
MAX_NURSERY_AGE = 5


def nursery_deadline(start_month: int) -> Tuple[int, int]:
    """(month, day) of the application deadline for a start in ``start_month`` (1–12)."""
    if not 1 <= start_month <= 12:
        raise ValueError(f"start_month must be 1–12, got {start_month}")
    if start_month == 4:
        return 12, 10
    return (start_month - 2) % 12 + 1, 10


def relocation_verdict(moved_from: str, moved_when: str, work: str) -> Optional[str]:
    """None when all three conditions hold, else the one that fails first:
    "tokyo23" (did not live in or commute to the 23 wards), "within_year" (moved in more
    than a year ago) or "work" (neither working nor starting a business)."""
    if moved_from != "tokyo23":
        return "tokyo23"
    if moved_when == "over_year":
        return "within_year"
    if work == "none":
        return "work"
    return None
