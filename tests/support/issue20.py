"""A 20-review issue as real review sites publish it, for the design tests.

Twenty original reviews covering every grade band, with landscape stills, portrait posters,
square stills and no picture at all, an author and an ``Overall:`` verdict on most, and the
facts line in the folder format (``Network; Year; Certificate; Runtime.``). ``image_url`` makes
each picture's URL from its (width, height), so a test can serve real images of that shape.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from digest.collect.fields import parse_facts
from digest.models import Grade, Image, Review
from support.clock import NOW
from support.render_reviews import slug

LANDSCAPE, PORTRAIT, SQUARE = (1200, 675), (600, 900), (800, 800)

#: (title, author, overview, facts, verdict, grade, picture shape or None)
ENTRIES: tuple[tuple[str, str, str, str, str, str, tuple[int, int] | None], ...] = (
    ("The Understudy", "Ada Lumen",
     "A stage manager steps into the lead on opening night and discovers why the star vanished "
     "from his dressing room with the curtain already up.",
     "Cinema release; 2026; 15; 108 min.",
     "A backstage thriller that never drops a cue, anchored by a fierce central turn.",
     "A+", LANDSCAPE),
    ("Salt and Iron", "Tomas Reyes",
     "Two rival blacksmiths in a dying port town are forced to share one forge through a winter "
     "of storms.",
     "BBC Two; 2026; 12; 6 x 50 min.",
     "Warm, craggy and quietly funny; the best slow television of the year.",
     "A", PORTRAIT),
    ("Gravel Kings", "Ada Lumen",
     "A rally driver past her prime takes one last season with a rookie co-driver who reads the "
     "pace notes too fast.",
     "Netflix; 2026; 15; 121 min.",
     "Thrilling on the stages, wobbly in between, and worth it for the engine noise.",
     "A-", SQUARE),
    ("The Quiet Year", "Noor Haddad",
     "A village in the Pennines agrees to a year without phones, and the postmistress keeps the "
     "only ledger of who cheats.",
     "Channel 4; 2026; 12; 4 x 60 min.",
     "A gentle satire with a sting in its final episode.",
     "B+", None),
    ("Mothers of Invention", "Tomas Reyes",
     "A documentary about the women who built the first home computers in a converted "
     "Birmingham laundry.",
     "Cinema release; 2025; PG; 94 min.",
     "Enraging and inspiring in equal measure, and far too short.",
     "B", LANDSCAPE),
    ("Night Shift at the Aquarium", "Ada Lumen",
     "A security guard talks to the octopus on his rounds until, one night, it answers back.",
     "Apple TV+; 2026; 12A; 99 min.",
     "Whimsy that earns its tears; the octopus deserves an award.",
     "B-", PORTRAIT),
    ("A Bridge Too Near", "Noor Haddad",
     "A political thriller about a junior civil servant who finds a new river crossing was "
     "approved on forged surveys.",
     "ITV1; 2026; 15; 4 x 45 min.",
     "A sharp opening squandered on a plot that collapses under its own weight.",
     "C-", LANDSCAPE),
    ("Summer of Static", "Tomas Reyes",
     "Teenagers running a pirate radio station from a caravan park get more listeners than "
     "they bargained for.",
     "Sky Atlantic; 2026; 15; 8 x 30 min.",
     "Great soundtrack, thin characters, and one episode too many.",
     "C+", SQUARE),
    ("The Cartographer", "Ada Lumen",
     "An ageing mapmaker is hired to chart an island that does not appear on any satellite "
     "image.",
     "Cinema release; 2026; PG; 112 min.",
     "Gorgeous to look at and maddening to follow.",
     "C", LANDSCAPE),
    ("Hollow Crown Heights", "Noor Haddad",
     "A soap-opera family feud over a tower block's penthouse, played with a straight face "
     "that it does not earn.",
     "Channel 5; 2026; 15; 10 x 45 min.",
     "Loud, long and curiously joyless.",
     "D+", PORTRAIT),
    ("Ordinary Saints", "Tomas Reyes",
     "A hospice chaplain loses her faith and finds a stray dog, in roughly that order.",
     "BBC One; 2026; PG; 3 x 60 min.",
     "Sincere to a fault; the dog does the heavy lifting.",
     "B", None),
    ("Dog Days in Duluth", "Ada Lumen",
     "Three brothers reunite for a heatwave funeral and discover their father's second family "
     "on the guest list.",
     "Mubi; 2025; 15; 103 min.",
     "Prickly, funny and sharply observed.",
     "A-", LANDSCAPE),
    ("The Last Ferry", "Noor Haddad",
     "Passengers on a storm-bound night crossing realise the captain has not been seen since "
     "they left port.",
     "Cinema release; 2026; 15; 96 min.",
     "A locked-room mystery that sinks in the second act.",
     "D", SQUARE),
    ("Paper Satellites", "Tomas Reyes",
     "A shy physics teacher enters her class's homemade satellite into a national contest run "
     "by her ex-husband.",
     "Disney+; 2026; PG; 101 min.",
     "Predictable but irresistible.",
     "B+", LANDSCAPE),
    ("The Lighthouse Keeper's Daughter", "Ada Lumen",
     "A retelling of a folk tale in which the keeper's daughter bargains with the sea for her "
     "drowned brother.",
     "Cinema release; 2026; 12A; 118 min.",
     "Bewitching, if a little in love with its own fog machine.",
     "B-", PORTRAIT),
    ("Tin Can Symphony", "Noor Haddad",
     "A junkyard orchestra of retired steelworkers prepares for one concert in the ruins of "
     "their old plant.",
     "BBC Four; 2026; U; 88 min.",
     "Rough around the edges and all the better for it.",
     "C+", LANDSCAPE),
    ("Borrowed Light", "Tomas Reyes",
     "A night-shift radiographer starts seeing the X-rays of patients she has not yet met.",
     "Prime Video; 2026; 15; 6 x 40 min.",
     "A clever premise smothered by filler.",
     "D-", SQUARE),
    ("Weekend at the Regal", "",
     "The last weekend of a family-run cinema, told through the staff, the regulars and a "
     "projector that refuses to die.",
     "Cinema release; 2026; 12A; 105 min.",
     "",
     "A", None),
    ("Static Fields", "Ada Lumen",
     "A farming drama in which a wind farm splits a valley down the middle and a marriage with "
     "it.",
     "ITVX; 2026; 12; 5 x 50 min.",
     "Solid, unflashy and a touch too long.",
     "C", PORTRAIT),
    ("Minor Key", "Noor Haddad",
     "A pianist with stage fright plays every concert from behind a curtain, until the curtain "
     "catches fire.",
     "Cinema release; 2026; 15; 92 min.",
     "Silly, overheated and never dull.",
     "F", LANDSCAPE),
)  # fmt: skip

#: The picture shapes the issue has, by name, for reports.
SHAPES = {LANDSCAPE: "landscape", PORTRAIT: "portrait", SQUARE: "square"}
#: A picture whose source declared no size (a folder file's ``Image:`` line): served as a
#: landscape still, framed without knowing its shape.
UNSIZED = "The Cartographer"


def twenty_reviews(image_url: Callable[[str, int, int], str]) -> tuple[Review, ...]:
    """The 20 reviews, newest first; ``image_url(slug, width, height)`` names each picture."""
    reviews = []
    for i, (title, author, overview, facts, verdict, grade, shape) in enumerate(ENTRIES):
        s = slug(title)
        image = None
        if shape is not None:
            w, h = shape
            declared = (None, None) if title == UNSIZED else (w, h)
            image = Image(url=image_url(s, w, h), alt=f"A still from {title}",
                          credit="Studio Press", width=declared[0], height=declared[1])  # fmt: skip
        review = Review(
            title=title, published=NOW - timedelta(hours=1 + i), source="fixtures", key=s,
            link=f"https://nightshift.example.org/reviews/{s}/", author=author,
            overview=overview, facts=parse_facts(facts), verdict=verdict,
            grade=Grade.parse(grade), image=image,
        )  # fmt: skip
        reviews.append(review)
    return tuple(reviews)
