"""Writes the hostile and multi-encoding feed corpus next to this file, and EXPECTED.json.

Run it from anywhere (``python tests/collect/corpus/make_corpus.py``); its output is checked
in, so the corpus test reads fixed bytes. Every text here is our own. Each file gets what the
test must see: the titles of the reviews read, or a pattern of the one-line report.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATE = "Mon, 23 Nov 2026 09:30:00 +0000"
BODY = (
    "<p><strong>Overview:</strong> {overview}</p>"
    "<p><strong>Overall:</strong> Worth an evening.</p><p><strong>Rating:</strong> B</p>"
)


def item(title: str, n: int = 1, html: str = "", overview: str = "A quiet drama.") -> str:
    content = html or BODY.format(overview=overview)
    return (
        f"<item><title>{title}</title><link>https://reviews.example.org/{n}/</link>"
        f"<guid>corpus-{n}</guid><pubDate>{DATE}</pubDate>"
        f"<description><![CDATA[{content}]]></description></item>"
    )


def rss(*items: str, encoding: str | None = "utf-8", prologue: str = "") -> str:
    decl = f'<?xml version="1.0" encoding="{encoding}"?>\n' if encoding else ""
    return (
        f'{decl}{prologue}<rss version="2.0"><channel><title>Corpus Reviews</title>'
        f"<link>https://reviews.example.org/</link>{''.join(items)}</channel></rss>"
    )


#: (file name, encoding for the bytes, declared encoding or None, BOM?, title)
ENCODED = [
    ("utf16le-bom.xml", "utf-16-le", "utf-16", True, "Harbour Lights — UTF-16 LE"),
    ("utf16be-bom.xml", "utf-16-be", "utf-16", True, "Harbour Lights — UTF-16 BE"),
    ("utf16le-nobom.xml", "utf-16-le", "utf-16le", False, "Harbour Lights — UTF-16 LE, no BOM"),
    ("utf16be-nobom.xml", "utf-16-be", "utf-16be", False, "Harbour Lights — UTF-16 BE, no BOM"),
    ("utf32.xml", "utf-32", "utf-32", False, "Harbour Lights — UTF-32"),
    ("big5.xml", "big5", "big5", False, "港灣燈火：一部關於沉默的劇集"),
    ("shift_jis.xml", "shift_jis", "shift_jis", False, "港の灯り：沈黙についてのドラマ"),
    ("euc-kr.xml", "euc-kr", "euc-kr", False, "항구의 불빛: 침묵에 관한 드라마"),
    ("gb2312.xml", "gb2312", "gb2312", False, "港湾灯火：一部关于沉默的剧集"),
    ("windows-1252.xml", "windows-1252", "windows-1252", False, "Café Noir – “Señor Ángel”"),
    ("latin1-undeclared.xml", "latin-1", None, False, "Señora Ángela en el café"),
]

ENTITY = "Harbour " * 400
STRAY_PERCENT = f'<!DOCTYPE rss [\n%\n<!ENTITY big "{ENTITY}">\n]>\n'
LAUGHS = (
    '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    + "]>\n"
)
EXTERNAL = '<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'
REFUSED = "declares XML entities"


def write(name: str, data: bytes, expected: dict[str, object], manifest: dict[str, object]) -> None:
    (HERE / name).write_bytes(data)
    manifest[name] = expected


def main() -> None:
    manifest: dict[str, object] = {}
    for name, codec, declared, bom, title in ENCODED:
        data = rss(item(title), encoding=declared).encode(codec)
        if bom:
            data = ("\ufeff").encode(codec) + data
        write(name, data, {"titles": [title]}, manifest)
    bombs = [
        ("bomb-stray-percent-utf8.xml", "utf-8", STRAY_PERCENT),
        ("bomb-stray-percent-utf16.xml", "utf-16", STRAY_PERCENT),
        ("bomb-stray-percent-utf16be.xml", "utf-16-be", STRAY_PERCENT),
        ("bomb-stray-percent-utf32.xml", "utf-32", STRAY_PERCENT),
        ("bomb-laughs-utf16.xml", "utf-16", LAUGHS),
        ("bomb-laughs-big5.xml", "big5", LAUGHS),
        ("bomb-external-utf16le.xml", "utf-16-le", EXTERNAL),
    ]
    for name, codec, prologue in bombs:
        declared = "utf-16" if codec.startswith("utf-16") else codec
        refs = "&big;" * 40 if "big" in prologue else "&i;" if "&h;" in prologue else "&secret;"
        doc = rss(item(refs), encoding=declared, prologue=prologue)
        write(name, doc.encode(codec), {"error": REFUSED}, manifest)
    stray = "<blockquote></q>" * 20_000
    write(
        "stray-close-tags.xml",
        rss(item("Stray Close Tags", html=BODY.format(overview="Still here.") + stray)).encode(),
        {"titles": ["Stray Close Tags"]},
        manifest,
    )
    deep = "<div>" * 30_000 + "deep" + "</div>" * 30_000
    write(
        "deep-html-nesting.xml",
        rss(item("Deep HTML", html=BODY.format(overview="Deep.") + deep)).encode(),
        {"titles": ["Deep HTML"]},
        manifest,
    )
    deep_xml = "<x>" * 20_000 + "</x>" * 20_000
    write(
        "deep-xml-nesting.xml",
        rss(item("Deep XML").replace("<guid>", deep_xml + "<guid>")).encode(),
        {"titles": ["Deep XML"]},
        manifest,
    )
    whole = rss(item("First Of Two", 1), item("Second Of Two", 2)).encode()
    write(
        "truncated.xml",
        whole[: whole.index(b"Second Of Two") + 20],
        {"titles": ["First Of Two"], "problem": "not well-formed"},
        manifest,
    )
    page = (
        "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    )
    write("html-error-page.html", page.encode(), {"error": "an HTML page, not a feed"}, manifest)
    write("html-error-page-as-xml.xml", page.encode(), {"error": "an HTML page"}, manifest)
    write("empty.xml", b"", {"error": "empty answer"}, manifest)
    write("whitespace.xml", b" \r\n\t\n", {"error": "empty answer"}, manifest)
    write("bom-only.xml", b"\xff\xfe", {"error": "not a readable feed"}, manifest)
    write(
        "binary.bin", bytes(range(256)) * 8, {"error": "not a readable feed|not an RSS"}, manifest
    )
    write("not-a-feed.xml", b"<config><port>80</port></config>", {"error": "not an RSS"}, manifest)
    write(
        "json-broken.json",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
        {"error": "JSON"},
        manifest,
    )
    (HERE / "EXPECTED.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
