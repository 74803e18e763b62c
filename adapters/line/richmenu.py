"""Rich menu: the tappable panel under the chat, described in a YAML file and set up through
the API (create → upload image → make default) by ``madoguchi line setup-richmenu FILE``.

A city describes its menu in YAML (``richmenu.sample.yaml`` beside this file)::

    name: madoguchi-default          # ≤ 300 characters, for the city's own reference
    chat_bar_text: メニュー           # ≤ 14 characters, shown on the bar that opens the menu
    size: {width: 2500, height: 1686}
    selected: true                   # open by default
    image: richmenu.png              # optional, relative to the YAML; drawn when absent
    font: /usr/share/fonts/…/NotoSansCJK-Regular.ttc   # optional, to draw CJK labels
    areas:
      - bounds: {x: 0, y: 0, width: 833, height: 843}
        caption: Childcare           # what the drawn image shows (optional)
        action: {type: message, label: 子育て, text: 子育ての相談をしたい}

Actions are LINE action objects (message, postback, uri…), validated with line-bot-sdk's
models; ``postback`` data ``madoguchi:lang=en`` switches the user's language. Validation
reports every problem at once with the file name, like the KB loader.

The image is drawn with Pillow when the YAML names none (or the file is missing), so a fresh
install has a working menu; without a CJK font only Latin captions can be drawn, hence
``caption``. LINE wants PNG or JPEG, 800–2500 px wide, at least 250 px high, ≤ 1 MB.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from linebot.v3.messaging import Action, RichMenuArea, RichMenuBounds, RichMenuRequest, RichMenuSize
from pydantic import ValidationError

from adapters.errors import AdapterError
from adapters.line.client import LineClient

SAMPLE = Path(__file__).with_name("richmenu.sample.yaml")
_MAX_IMAGE_BYTES = 1024 * 1024
_PALETTE = ("#2E7D32", "#1565C0", "#6A1B9A", "#C62828", "#EF6C00", "#00838F")


class RichMenuError(AdapterError):
    """The rich menu file is invalid; the message lists every problem."""


@dataclass(frozen=True)
class RichMenuSpec:
    """A validated rich menu: the API request, where its image comes from, and captions."""

    request: RichMenuRequest
    image_path: Path | None
    captions: tuple[str, ...]
    font_path: Path | None

    def body(self) -> dict[str, Any]:
        """The JSON body of POST /v2/bot/richmenu."""
        return self.request.to_dict()


def load_richmenu(path: Path) -> RichMenuSpec:
    """Read and validate a rich menu YAML file.

    Raises:
        RichMenuError: naming the file and every problem found.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RichMenuError(f"{path}: cannot read rich menu file: {exc}") from exc
    if not isinstance(data, dict):
        raise RichMenuError(f"{path}: expected a mapping with name, chat_bar_text, size and areas")
    problems: list[str] = []
    size = data.get("size") or {}
    width, height = (
        _int(size.get("width"), "size.width", problems),
        _int(size.get("height"), "size.height", problems),
    )
    if width and not 800 <= width <= 2500:
        problems.append(f"size.width {width} must be between 800 and 2500")
    if height and height < 250:
        problems.append(f"size.height {height} must be at least 250")
    if width and height and width / height < 1.45:
        problems.append(f"size {width}x{height}: width/height must be at least 1.45")
    chat_bar = str(data.get("chat_bar_text") or "")
    if not 1 <= len(chat_bar) <= 14:
        problems.append(f"chat_bar_text {chat_bar!r} must have 1 to 14 characters")
    name = str(data.get("name") or "")
    if not 1 <= len(name) <= 300:
        problems.append(f"name {name!r} must have 1 to 300 characters")
    areas, captions = _areas(data.get("areas"), width, height, problems)
    if problems:
        raise RichMenuError(
            f"{path}: rich menu has {len(problems)} problem(s):\n" + "\n".join(problems)
        )
    request = RichMenuRequest(
        size=RichMenuSize(width=width, height=height),
        selected=bool(data.get("selected", True)),
        name=name,
        chat_bar_text=chat_bar,
        areas=areas,
    )
    image = data.get("image")
    font = data.get("font")
    return RichMenuSpec(
        request=request,
        image_path=(path.parent / str(image)) if image else None,
        captions=tuple(captions),
        font_path=Path(str(font)) if font else None,
    )


def _int(raw: Any, what: str, problems: list[str]) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        problems.append(f"{what} must be a non-negative integer, got {raw!r}")
        return 0
    return raw


def _areas(
    raw: Any, width: int, height: int, problems: list[str]
) -> tuple[list[RichMenuArea], list[str]]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= 20:
        problems.append("areas must be a list of 1 to 20 areas")
        return [], []
    areas: list[RichMenuArea] = []
    captions: list[str] = []
    for i, item in enumerate(raw, 1):
        where = f"areas[{i}]"
        if not isinstance(item, dict):
            problems.append(f"{where} must be a mapping with bounds and action")
            continue
        b = item.get("bounds") or {}
        x, y = (
            _int(b.get("x"), f"{where}.bounds.x", problems),
            _int(b.get("y"), f"{where}.bounds.y", problems),
        )
        w, h = (
            _int(b.get("width"), f"{where}.bounds.width", problems),
            _int(b.get("height"), f"{where}.bounds.height", problems),
        )
        if width and height and (x + w > width or y + h > height):
            problems.append(
                f"{where}.bounds {x},{y} {w}x{h} extend past the menu ({width}x{height})"
            )
        action_raw = item.get("action")
        try:
            action = Action.from_dict(action_raw)
        except (ValueError, ValidationError, TypeError, AttributeError) as exc:
            problems.append(f"{where}.action {action_raw!r} is not a LINE action: {str(exc)[:200]}")
            continue
        label = getattr(action, "label", None)
        if label and len(label) > 20:
            problems.append(f"{where}.action.label {label!r} is longer than 20 characters")
        areas.append(
            RichMenuArea(bounds=RichMenuBounds(x=x, y=y, width=w, height=h), action=action)
        )
        captions.append(str(item.get("caption") or label or f"#{i}"))
    return areas, captions


def draw_image(spec: RichMenuSpec) -> bytes:
    """A PNG for the menu: one coloured tile per area with its caption."""
    from PIL import Image, ImageDraw, ImageFont

    size = spec.request.size
    image = Image.new("RGB", (size.width, size.height), "#FFFFFF")
    draw = ImageDraw.Draw(image)
    font_size = max(24, min(size.height // 8, 120))
    font: Any
    if spec.font_path and spec.font_path.is_file():
        font = ImageFont.truetype(str(spec.font_path), font_size)
    else:
        font = ImageFont.load_default(size=font_size)
    for i, (area, caption) in enumerate(zip(spec.request.areas, spec.captions, strict=True)):
        b = area.bounds
        box = (b.x + 6, b.y + 6, b.x + b.width - 6, b.y + b.height - 6)
        draw.rounded_rectangle(box, radius=24, fill=_PALETTE[i % len(_PALETTE)])
        text = caption if spec.font_path else _drawable(caption, i)
        draw.text(
            (b.x + b.width / 2, b.y + b.height / 2), text, fill="#FFFFFF", font=font, anchor="mm"
        )
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _drawable(caption: str, index: int) -> str:
    """Pillow's built-in font has Latin glyphs only: keep the caption if it fits that."""
    try:
        caption.encode("latin-1")
    except UnicodeEncodeError:
        return f"{index + 1}"
    return caption


def menu_image(spec: RichMenuSpec) -> tuple[bytes, str]:
    """The image to upload (the YAML's file, else a drawn one) and its content type."""
    if spec.image_path and spec.image_path.is_file():
        data = spec.image_path.read_bytes()
        kind = "image/png" if data[:8] == b"\x89PNG\r\n\x1a\n" else "image/jpeg"
    else:
        data, kind = draw_image(spec), "image/png"
    if len(data) > _MAX_IMAGE_BYTES:
        raise RichMenuError(f"rich menu image is {len(data)} bytes; LINE accepts at most 1 MB")
    return data, kind


async def setup_richmenu(client: LineClient, spec: RichMenuSpec, make_default: bool = True) -> str:
    """Create the menu, upload its image and (by default) show it to every user.

    Returns:
        The new rich menu's id.
    """
    image, content_type = menu_image(spec)
    rich_menu_id = await client.create_rich_menu(spec.body())
    await client.upload_rich_menu_image(rich_menu_id, image, content_type)
    if make_default:
        await client.set_default_rich_menu(rich_menu_id)
    return rich_menu_id
