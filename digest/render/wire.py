"""The HTML and text parts as they travel: quoted-printable, with the per-recipient slots.

Gmail clips a message whose HTML part passes about 102 KB *as received*, i.e. after
quoted-printable encoding, which adds 8–9 % to our HTML (every ``=`` becomes ``=3D``, every
non-ASCII byte three bytes, a soft line break every 76 characters). So the clip guard measures
exactly the bytes the sender writes (``deliver.message`` encodes with these same functions), with
the longest recipient values a subscriber can have in place of the markers, and trims under
``CLIP_BUDGET``, which leaves ``CLIP_AT - CLIP_BUDGET`` (6 KB) of margin for what a client may
count besides the part's body (its own headers, a view-in-browser banner a relay adds).

Each slot sits on a line of its own between two QP *soft* line breaks (``=\\n``, invisible once
decoded), so a value of any length is encoded on its own and wrapped within the 76-character
limit, and substituting it never disturbs the lines around it.
"""

from __future__ import annotations

import binascii
import html
import re
from collections.abc import Mapping

from digest.models import Markers

#: Gmail's clipping threshold for the HTML part, in bytes as received.
CLIP_AT = 102 * 1024
#: What the clip guard trims the encoded HTML part under (6 KB of margin below ``CLIP_AT``).
CLIP_BUDGET = 96 * 1024
#: The longest values a recipient can bring (``state.subscribers`` caps names at 200 characters;
#: tokens are 43, the sender accepts up to 128). The widest encodings are used: a 4-byte UTF-8
#: character becomes 12 QP bytes, ``"`` becomes ``&quot;`` in HTML.
LONGEST_TOKEN = "x" * 128
LONGEST_NAMES = ("\U0001f3ac" * 200, '"' * 200)


def qp(text: str) -> str:
    """Quoted-printable with ``\\n`` line ends (the generator turns them into CRLF).

    The last line is kept to 75 characters, leaving room for the soft break that follows it
    when a slot comes next.
    """
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    head, sep, last = encoded.rpartition("\n")
    if len(last) < 76:
        return encoded
    cut = 75
    while "=" in last[cut - 2 : cut]:  # never split an =XX escape
        cut -= 1
    return f"{head}{sep}{last[:cut]}=\n{last[cut:]}"


def qp_value(value: str) -> bytes:
    """A slot's value, QP-encoded with CRLF soft breaks (it sits on its own line)."""
    return binascii.b2a_qp(value.encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


def body_with_slots(body: str, slots: Mapping[str, str]) -> str:
    """QP-encode ``body`` with each marker replaced by its slot token on a line of its own."""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    pattern = re.compile("|".join(re.escape(m) for m in slots))
    out: list[str] = []
    pos = 0
    for m in pattern.finditer(body):
        out.append(qp(body[pos : m.start()]))
        out.append(f"=\n{slots[m.group(0)]}=\n")
        pos = m.end()
    out.append(qp(body[pos:]))
    return "".join(out)


def html_part_size(html_body: str, markers: Markers, base_url: str) -> int:
    """Bytes of the HTML part's body on the wire (CRLF line ends) for the longest recipient."""
    url = html.escape(f"{base_url}/unsubscribe/{LONGEST_TOKEN}")
    name = max((html.escape(n) for n in LONGEST_NAMES), key=lambda n: len(qp_value(n)))
    values = {
        markers.unsubscribe_url: qp_value(url).decode("ascii").replace("\r\n", "\n"),
        markers.name: qp_value(name).decode("ascii").replace("\r\n", "\n"),
    }
    if markers.greeting:  # "Hello <a first name as long as the longest name>,"
        greeting = qp_value(f"Hello {name},").decode("ascii").replace("\r\n", "\n")
        values[markers.greeting] = greeting
    encoded = body_with_slots(html_body, values)
    return len(encoded) + encoded.count("\n")
