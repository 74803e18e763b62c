"""Seeded personal data as residents type it, and a scanner that finds it in stored bytes.

``generate(seed)`` makes phone numbers (mobile, landline, +81; hyphens, spaces, none, the
dashes Japanese IMEs produce, full-width digits), マイナンバー (12 digits whose 12th is the
official check digit), e-mail addresses (half- and full-width) and Japanese street addresses
(丁目・番・号 and 1-2-3 forms). ``Scanner`` looks for every value in each form it could be
stored in: as typed, NFKC-normalised, digits only, and each of those as UTF-8, as JSON with
``ensure_ascii`` (Rasa's tracker store writes ``\\uXXXX`` escapes) and URL-encoded.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

DASHES = ["-", "－", "ー", "−", "‐"]  # ASCII, full-width, chōonpu (IMEs), minus, hyphen
FULL_WIDTH = str.maketrans("0123456789-", "０１２３４５６７８９－")


def my_number_check_digit(first11: str) -> int:
    """The 12th digit of a 個人番号 (総務省令 第八十五号 第五条).

    With P(n) the n-th of the first 11 digits counted from the right and Q(n) = n + 1 for
    n ≤ 6, n − 5 for n ≥ 7: the remainder r of Σ P(n)·Q(n) by 11 gives 0 when r ≤ 1,
    else 11 − r.
    """
    if not re.fullmatch(r"[0-9]{11}", first11):
        raise ValueError(f"expected the first 11 digits of a My Number, got {first11!r}")
    total = sum(
        int(digit) * (n + 1 if n <= 6 else n - 5)
        for n, digit in enumerate(reversed(first11), start=1)
    )
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


def is_my_number(digits: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{12}", digits)) and int(digits[11]) == my_number_check_digit(
        digits[:11]
    )


@dataclass(frozen=True)
class Pii:
    """One piece of personal data as a resident typed it, and the sentence around it."""

    kind: str  # phone, mynumber, email, address
    value: str
    message: str

    def forms(self) -> set[str]:
        """The strings that must not be found anywhere: as typed, NFKC, digits only, and
        for addresses the town and block without the city."""
        nfkc = unicodedata.normalize("NFKC", self.value)
        forms = {self.value, nfkc}
        if self.kind in ("phone", "mynumber"):
            forms.add(re.sub(r"[^0-9]", "", nfkc))
        if self.kind == "email":
            forms.add(nfkc.lower())
        if self.kind == "address":
            forms.add(re.sub(r"^.*[都道府県市区]", "", nfkc))  # town + block
        return {f for f in forms if len(f) >= 6}


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def _styled(rng: random.Random, groups: list[str]) -> str:
    style = rng.choice(["dash", "none", "space", "ime", "full"])
    if style == "dash":
        return "-".join(groups)
    if style == "none":
        return "".join(groups)
    if style == "space":
        return " ".join(groups)
    if style == "ime":  # full-width digits and the dash an IME gives for ー
        return rng.choice(DASHES[1:]).join(g.translate(FULL_WIDTH) for g in groups)
    return "－".join(groups).translate(FULL_WIDTH)


def phone(rng: random.Random) -> str:
    kind = rng.choice(["mobile", "tokyo", "rural", "paren", "intl"])
    if kind == "mobile":
        return _styled(rng, [rng.choice(["090", "080", "070"]), _digits(rng, 4), _digits(rng, 4)])
    if kind == "tokyo":
        return _styled(rng, ["03", _digits(rng, 4), _digits(rng, 4)])
    if kind == "rural":
        return _styled(rng, ["0" + _digits(rng, 3), _digits(rng, 2), _digits(rng, 4)])
    if kind == "paren":
        return f"0{rng.randint(11, 99)}({_digits(rng, 3)}){_digits(rng, 4)}"
    return f"+81 {rng.choice(['90', '80'])} {_digits(rng, 4)} {_digits(rng, 4)}"


def my_number(rng: random.Random) -> str:
    first = str(rng.randint(1, 9)) + _digits(rng, 10)
    digits = first + str(my_number_check_digit(first))
    return _styled(rng, [digits[:4], digits[4:8], digits[8:]])


def email(rng: random.Random) -> str:
    names = ["taro", "hanako", "yamada", "suzuki", "nguyen", "silva", "kim", "tanaka"]
    local = rng.choice(names) + rng.choice([".", "_", "+", ""]) + rng.choice(names) + _digits(rng, 2)
    domain = rng.choice(["example.co.jp", "mail.example.ne.jp", "example.com", "city-mail.example.jp"])
    address = f"{local}@{domain}"
    if rng.random() < 0.25:  # typed with the IME in full-width mode
        address = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in address)
    return address


CITIES = ["霞野市", "東京都千代田区", "大阪府大阪市北区", "霞野市北区", "神奈川県横浜市青葉区"]
TOWNS = ["本町", "緑町", "桜木町", "若葉台", "東雲", "中央", "美しが丘", "旭ケ丘"]


def street_address(rng: random.Random) -> str:
    city, town = rng.choice(CITIES), rng.choice(TOWNS)
    a, b, c = rng.randint(1, 9), rng.randint(1, 40), rng.randint(1, 30)
    block = rng.choice([
        f"{a}丁目{b}番{c}号",
        f"{a}丁目{b}番地{c}",
        f"{a}-{b}-{c}",
        f"{a}丁目{b}-{c}",
        f"{a}－{b}－{c}".translate(FULL_WIDTH),
        f"{a}ー{b}ー{c}",
    ])
    return f"{city}{town}{block}"


SENTENCES = {
    "phone": ["電話番号は{}です", "連絡先：{}", "折り返しは{}にお願いします", "my phone number is {}"],
    "mynumber": ["マイナンバーは{}です", "個人番号 {} の通知カードをなくしました", "My Number: {}"],
    "email": ["メールアドレスは{}です", "{}に送ってください", "please email me at {}"],
    "address": ["住所は{}です", "{}に引っ越しました", "I live at {}"],
}
MAKERS = {"phone": phone, "mynumber": my_number, "email": email, "address": street_address}


def generate(seed: int, per_kind: int = 2) -> list[Pii]:
    """``per_kind`` values of each kind, each inside a sentence, reproducible from ``seed``."""
    rng = random.Random(seed)
    out = []
    for kind, make in MAKERS.items():
        for _ in range(per_kind):
            value = make(rng)
            out.append(Pii(kind, value, rng.choice(SENTENCES[kind]).format(value)))
    return out


def _encodings(form: str) -> set[bytes]:
    return {
        form.encode(),
        json.dumps(form)[1:-1].encode(),  # \uXXXX escapes (ensure_ascii)
        quote(form).encode(),
    }


class Scanner:
    """Finds any form of any given value in bytes."""

    def __init__(self, values: list[Pii]) -> None:
        self.needles = [(p, needle) for p in values for f in p.forms() for needle in _encodings(f)]

    def leaks(self, blob: bytes, where: str) -> list[str]:
        """One line per value found in ``blob`` (``where`` names the place)."""
        found = []
        for pii, needle in self.needles:
            at = blob.find(needle)
            if at >= 0:
                context = blob[max(0, at - 60): at + len(needle) + 60].decode(errors="replace")
                found.append(f"{where}: {pii.kind} {pii.value!r} as {needle!r} in …{context}…")
        return found
