"""Chinese is drawn with a Chinese font (WenQuanYi Micro Hei, from `make system-deps`), not as
empty boxes, in the screenshots the browser tests take."""

from __future__ import annotations

import re
import struct

from tests.browser.conftest import NewPage
from tests.browser.support import SCREENSHOTS, platform_fonts, screenshot

HEADING = "中小企业特色产业集群"
LINE = "福州市 · 鼓楼区　已拨付 12.50 万元　截止日期 2026年3月30日"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


async def test_chinese_text_is_drawn_with_a_chinese_font_in_screenshots(
    new_page: NewPage,
) -> None:
    page = await new_page("zh")
    await page.goto("/health")  # a page of this server; its content is replaced below
    await page.set_content(f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">
        <title>字体</title><style>body {{ font-family: sans-serif; margin: 2em }}</style></head>
        <body><h1 id="heading">{HEADING}</h1><p id="line">{LINE}</p></body></html>""")
    heading_fonts = await platform_fonts(page, "#heading")
    assert heading_fonts == {"WenQuanYi Micro Hei": len(HEADING)}
    line_fonts = await platform_fonts(page, "#line")
    assert line_fonts.get("WenQuanYi Micro Hei", 0) >= len(CJK.findall(LINE))

    path = await screenshot(page, "chinese-text", "zh")
    assert path == SCREENSHOTS / "zh" / "chinese-text.png"
    png = path.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 0
    assert height > 0
