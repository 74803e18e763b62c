"""``madoguchi line setup-richmenu``: the sample menu is created, its image uploaded and set
as the default through the (fake) LINE API; bad files are refused with every problem named."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.adapters.line.fakes import TOKEN, FakeLine
from typer.testing import CliRunner

from adapters.cli import app
from adapters.line.richmenu import SAMPLE, RichMenuError, draw_image, load_richmenu


def test_setup_richmenu_creates_uploads_and_sets_default(fake_line: FakeLine) -> None:
    env = {
        "MADOGUCHI_LINE__CHANNEL_ACCESS_TOKEN": TOKEN,
        "MADOGUCHI_LINE__API_BASE_URL": fake_line.url,
        "MADOGUCHI_LINE__DATA_API_BASE_URL": fake_line.url,
    }
    result = CliRunner().invoke(app, ["line", "setup-richmenu", str(SAMPLE)], env=env)
    assert result.exit_code == 0, result.output
    assert "richmenu-0123456789abcdef" in result.output
    assert [c.op for c in fake_line.calls] == ["richmenu", "richmenu_image", "richmenu_default"]
    create, image, default = fake_line.calls
    assert create.json["chatBarText"] and len(create.json["areas"]) == 6
    assert image.headers["content-type"] == "image/png" and image.body[:4] == b"\x89PNG"
    assert default.path.endswith("/richmenu-0123456789abcdef")


def test_dry_run_writes_body_and_image(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["line", "setup-richmenu", str(SAMPLE), "--dry-run", "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "richmenu.json").is_file() and (
        tmp_path / "richmenu.png"
    ).stat().st_size > 1000


def test_drawn_image_has_the_menu_size() -> None:
    from io import BytesIO

    from PIL import Image

    spec = load_richmenu(SAMPLE)
    image = Image.open(BytesIO(draw_image(spec)))
    assert image.size == (2500, 1686)


def test_bad_menu_lists_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: x\nchat_bar_text: this text is far too long\nsize: {width: 3000, height: 100}\n"
        "areas:\n  - bounds: {x: 0, y: 0, width: 10, height: 10}\n    action: {type: teleport}\n",
        encoding="utf-8",
    )
    with pytest.raises(RichMenuError) as err:
        load_richmenu(bad)
    message = str(err.value)
    assert str(bad) in message
    for fragment in ("chat_bar_text", "size.width 3000", "at least 250", "not a LINE action"):
        assert fragment in message
    result = CliRunner().invoke(app, ["line", "setup-richmenu", str(bad)])
    assert result.exit_code == 2 and "chat_bar_text" in result.output
