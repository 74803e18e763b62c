"""The garbage collection table, read out of the KB's collection-days entry.

The city states its schedule once, in the Japanese answer of the KB entry
(``燃やせるごみは、北区・東区が月曜と木曜、…``). The dialogue needs it per district, and
copying it into the bot would let the two drift apart; so the table is parsed from that
sentence, and a change of wording the parser does not understand yields an empty table
(the bot then shows the whole entry instead of a wrong day).
"""

from __future__ import annotations

import re

DISTRICT_KEYS = {"北区": "kita", "南区": "minami", "東区": "higashi", "西区": "nishi", "中央区": "chuo"}
CATEGORY_KEYS = {"燃やせるごみ": "burnable", "可燃ごみ": "burnable", "プラスチック": "plastic",
                 "資源物": "recyclables", "資源ごみ": "recyclables"}
WEEKDAY_KEYS = {"月": 0, "火": 1, "水": 2, "木": 3, "金": 4, "土": 5, "日": 6}

_CATEGORY = re.compile("|".join(map(re.escape, CATEGORY_KEYS)))
_DISTRICT = r"(?:中央区|[北南東西]区)"
_PAIR = re.compile(rf"({_DISTRICT}(?:・{_DISTRICT})*)が((?:[月火水木金土日]曜(?:日)?)(?:(?:と|・)[月火水木金土日]曜(?:日)?)*)")

Schedule = dict[str, dict[str, list[int]]]


def parse_schedule(text: str) -> Schedule:
    """``{district: {category: [weekday, …]}}`` (Monday = 0) from the Japanese answer text.

    Each category name opens a segment; in it, "<districts>が<days>" pairs assign days.
    """
    table: Schedule = {}
    marks = list(_CATEGORY.finditer(text))
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        category = CATEGORY_KEYS[mark.group(0)]
        for districts, days in _PAIR.findall(text[mark.end():end]):
            weekdays = [WEEKDAY_KEYS[d] for d in re.findall(r"([月火水木金土日])曜", days)]
            for name in districts.split("・"):
                table.setdefault(DISTRICT_KEYS[name], {}).setdefault(category, weekdays)
    return table
