"""Reading form answers typed in any of the eleven languages: pure functions, no Rasa.

A form answer arrives either as an entity (the NLU's regex extractor, or a button payload
such as ``/inform{"district":"kita"}``) or as free text ("I live in Kita-ku", "2さい"). Both
end up here, so the form accepts what the resident typed even when the NLU found nothing,
and rejects what is not an answer (``None``) so the form can re-ask with buttons.
"""

import re
import unicodedata
from typing import Optional

DISTRICTS = ("kita", "minami", "higashi", "nishi", "chuo")
_DISTRICT_ALIASES = {
    "kita": ("北区", "北區", "きたく", "きた区", "기타구", "คิตะ", "kita"),
    "minami": ("南区", "南區", "みなみく", "みなみ区", "미나미구", "มินามิ", "minami"),
    "higashi": ("東区", "东区", "東區", "ひがしく", "ひがし区", "히가시구", "ฮิงาชิ", "higashi"),
    "nishi": ("西区", "西區", "にしく", "にし区", "니시구", "นิชิ", "nishi"),
    "chuo": ("中央区", "中央區", "ちゅうおうく", "ちゅうおう区", "주오구", "ชูโอ", "chuo", "chūō", "chuuou"),
}
_LATIN = re.compile(r"[a-zà-ɏ]")


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().lower()


def district(text: Optional[str]) -> Optional[str]:
    """The district key (kita, minami, higashi, nishi, chuo) named in ``text``, or None.

    Latin names must stand as words ("kita-ku", "Kita ward"), since "kita" is also a common
    Tagalog word; Japanese, Chinese, Korean and Thai names may sit inside a sentence.
    """
    norm = _norm(text)
    if norm in DISTRICTS:
        return norm
    found = set()
    for key, aliases in _DISTRICT_ALIASES.items():
        for alias in aliases:
            if _LATIN.match(alias):
                if re.search(rf"(?<![a-z]){re.escape(alias)}(?![a-z])", norm):
                    found.add(key)
            elif alias in norm:
                found.add(key)
    return found.pop() if len(found) == 1 else None


_AGE_UNITS_MONTHS = ("ヶ月", "か月", "カ月", "かげつ", "개월", "个月", "個月", "เดือน", "month", "mes", "tháng", "buwan")
_AGE_NUMBER = re.compile(r"(?<![0-9])([0-9]{1,2})(?![0-9])")
_BABY = ("赤ちゃん", "あかちゃん", "乳児", "newborn", "baby", "bebê", "bebé", "recién nacido", "sanggol", "아기", "婴儿", "嬰兒", "ทารก", "em bé")


def child_age(text: Optional[str]) -> Optional[int]:
    """The child's age in whole years (months count as 0), or None if no age is given.

    Ages above 17 are not a child's age and are rejected.
    """
    norm = _norm(text)
    match = _AGE_NUMBER.search(norm)
    if match:
        value = int(match.group(1))
        unit = norm[match.end():].lstrip(" -")
        if unit.startswith(_AGE_UNITS_MONTHS):
            return value // 12
        return value if value <= 17 else None
    if any(word in norm for word in _BABY):
        return 0
    return None


_MONTH_NAMES = {
    1: ("january", "jan", "enero", "janeiro", "enero", "มกราคม"),
    2: ("february", "feb", "febrero", "fevereiro", "pebrero", "กุมภาพันธ์"),
    3: ("march", "mar", "marzo", "março", "marco", "marso", "มีนาคม"),
    4: ("april", "apr", "abril", "เมษายน"),
    5: ("may", "mayo", "maio", "พฤษภาคม"),
    6: ("june", "jun", "junio", "junho", "hunyo", "มิถุนายน"),
    7: ("july", "jul", "julio", "julho", "hulyo", "กรกฎาคม"),
    8: ("august", "aug", "agosto", "สิงหาคม"),
    9: ("september", "sep", "sept", "septiembre", "setiembre", "setembro", "setyembre", "กันยายน"),
    10: ("october", "oct", "octubre", "outubro", "oktubre", "ตุลาคม"),
    11: ("november", "nov", "noviembre", "novembro", "nobyembre", "พฤศจิกายน"),
    12: ("december", "dec", "diciembre", "dezembro", "disyembre", "ธันวาคม"),
}
_MONTH_NUMBER = re.compile(r"(?<![0-9])(1[0-2]|0?[1-9])\s*(?:月|월|がつ)")
_MONTH_VI = re.compile(r"tháng\s*(1[0-2]|0?[1-9])(?![0-9])")
_MONTH_BARE = re.compile(r"^\s*(1[0-2]|0?[1-9])\s*$")


def month(text: Optional[str]) -> Optional[int]:
    """The month number (1–12) named in ``text``, or None."""
    norm = _norm(text)
    for pattern in (_MONTH_NUMBER, _MONTH_VI, _MONTH_BARE):
        match = pattern.search(norm)
        if match:
            return int(match.group(1))
    for number, names in _MONTH_NAMES.items():
        for name in names:
            if _LATIN.match(name):
                if re.search(rf"(?<![a-z]){re.escape(name)}(?![a-z])", norm):
                    return number
            elif name in norm:
                return number
    return None


# Relocation form: each answer is one of a few keys; buttons send the key itself.
MOVED_FROM = ("tokyo23", "tokyo_other", "elsewhere")
MOVED_WHEN = ("not_yet", "within_year", "over_year")
WORK_STATUS = ("employed", "business", "remote", "none")

_MOVED_FROM_WORDS = {
    "tokyo23": ("23区", "23 区", "23 ward", "23 quận", "23 distrito", "23 district", "23 เขต", "23 ward", "23구", "23 wards", "特別区"),
    "tokyo_other": ("東京", "东京", "tokyo", "tóquio", "tokio", "도쿄", "โตเกียว", "とうきょう"),
}
_MOVED_WHEN_WORDS = {
    "not_yet": ("まだ", "これから", "予定", "not yet", "planning", "will move", "还没", "還沒", "아직", "chưa", "ainda não", "todavía no", "aún no", "ยังไม่", "hindi pa"),
    "over_year": ("1年以上", "一年以上", "more than a year", "over a year", "years ago", "超过一年", "超過一年", "1년 이상", "hơn 1 năm", "mais de um ano", "más de un año", "เกิน 1 ปี", "mahigit isang taon"),
    "within_year": ("1年以内", "以内", "先月", "今年", "最近", "ヶ月前", "か月前", "last month", "this year", "recently", "months ago", "within a year", "一年内", "一年內", "최근", "1년 이내", "trong vòng 1 năm", "menos de um ano", "menos de un año", "ไม่ถึง 1 ปี", "wala pang isang taon"),
}
_WORK_WORDS = {
    "business": ("起業", "創業", "開業", "自営", "start a business", "starting a business", "my own business", "startup", "创业", "創業", "창업", "khởi nghiệp", "abrir", "negócio", "negocio", "emprender", "เปิดธุรกิจ", "negosyo"),
    "remote": ("テレワーク", "リモート", "remote", "telework", "远程", "遠距", "원격", "từ xa", "remoto", "ทำงานทางไกล"),
    "employed": ("就職", "就業", "会社員", "働", "勤め", "job", "employed", "work for", "working", "company", "上班", "工作", "회사", "취업", "làm", "trabalho", "emprego", "trabajo", "empresa", "ทำงาน", "trabaho", "nagtatrabaho"),
    "none": ("無職", "働いていない", "仕事はない", "not working", "unemployed", "no job", "没有工作", "沒有工作", "무직", "không làm", "desempregado", "desempleado", "ไม่ได้ทำงาน", "walang trabaho"),
}


def _keyword_choice(text: Optional[str], keys: tuple, words: dict) -> Optional[str]:
    norm = _norm(text)
    if norm in keys:
        return norm
    for key, markers in words.items():
        if any(marker in norm for marker in markers):
            return key
    return None


def moved_from(text: Optional[str]) -> Optional[str]:
    """Where the resident lived or commuted before: tokyo23, tokyo_other or elsewhere.

    Only a Tokyo answer can be recognised from free text; "elsewhere" comes from its button
    or from an answer naming a place that is clearly not Tokyo (handled by the caller).
    """
    return _keyword_choice(text, MOVED_FROM, _MOVED_FROM_WORDS)


def moved_when(text: Optional[str]) -> Optional[str]:
    """When the resident moved in: not_yet, within_year or over_year."""
    norm = _norm(text)
    months_ago = re.search(r"([0-9]{1,2})\s*(?:ヶ月|か月|カ月|months?|个月|個月|개월|tháng|meses|เดือน|buwan)", norm)
    if months_ago and norm not in MOVED_WHEN:
        return "within_year" if int(months_ago.group(1)) <= 12 else "over_year"
    # Longest-first: "1年以上" must win over "以内"-style markers.
    for key in ("not_yet", "over_year", "within_year"):
        if _keyword_choice(norm, MOVED_WHEN, {key: _MOVED_WHEN_WORDS[key]}) == key:
            return key
    return norm if norm in MOVED_WHEN else None


def work_status(text: Optional[str]) -> Optional[str]:
    """employed, business, remote or none. "Not working" is checked before "working"."""
    norm = _norm(text)
    if norm in WORK_STATUS:
        return norm
    for key in ("none", "business", "remote", "employed"):
        if any(marker in norm for marker in _WORK_WORDS[key]):
            return key
    return None


_NEGATIVE = (
    "👎", "役に立たな", "役にたたな", "違う", "間違", "わかりにく", "やく に たちません", "ちがいます", "わかりません",
    "not helpful", "unhelpful", "wrong", "useless", "didn't", "did not", "bad answer",
    "没有帮助", "没用", "错", "沒有幫助", "沒用", "錯", "도움이 안", "틀렸", "아니에요",
    "không hữu ích", "sai", "không đúng", "não ajudou", "errad", "não era", "no me ayudó",
    "está mal", "no es lo que", "ไม่มีประโยชน์", "ผิด", "ไม่ใช่", "hindi nakatulong", "mali", "hindi iyan",
    # Typed the way residents type: no apostrophes, no accents, polite particles in between.
    "didnt", "doesnt help", "doesn't help", "not correct", "not right", "not what i",
    "nao ajudou", "nao era", "no sirvi", "no sirve", "no me ayudo", "hindi po nakatulong",
    "không giúp", "khong giup", "khong dung", "ตอบไม่ตรง", "ไม่ตรง", "도움 안", "도움안",
)


def rating(text: Optional[str]) -> str:
    """"down" when the feedback text is negative, else "up"."""
    norm = _norm(text)
    return "down" if any(marker in norm for marker in _NEGATIVE) else "up"


_WORDLIKE = re.compile(r"[0-9a-zà-ɏ\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]", re.I)


def has_words(text: Optional[str]) -> bool:
    """Whether ``text`` has any letter or digit (emoji-only or punctuation-only has not)."""
    return bool(_WORDLIKE.search(text or ""))
