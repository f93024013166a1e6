"""Select: which collected reviews go into one period's issue, and why the others do not.

In order: keep the reviews published inside the period (``start <= published < end``); fold
copies of one review into one (same canonical link or same guid; title and year only between
link-less copies dated close together — see ``_fold``), keeping the copy with more fields
filled; drop reviews already sent in an earlier issue (any of a review's ``identities`` among
the ``already_sent`` ids ``pipeline.issue`` passes from the ledger); sort (newest first,
or by grade with ungraded reviews last); cap at ``selection.max_reviews``. Everything left out
becomes a ``Skipped`` with its reason, so ``digest sources`` can say why.

Pure: no I/O. ``pipeline.issue.prepare_issue`` reads the ledger and runs the collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from digest.collect import Collection
from digest.config import Config
from digest.models import Period, Review, Skipped, canonical_link

REASON_FUTURE = "dated in the future"
REASON_SENT = "already sent in an earlier issue"
REASON_CAP = "over max_reviews"


@dataclass(frozen=True, slots=True)
class Selected:
    """The reviews of one issue, in order, and what was left out."""

    reviews: tuple[Review, ...]
    skipped: tuple[Skipped, ...]
    #: Where the window really started: the previous issue's start when it reached back for
    #: that issue's left-overs (``carry_since``), else ``None`` (the period's own start).
    reach: datetime | None = None


def select_reviews(
    config: Config,
    collection: Collection,
    period: Period,
    *,
    already_sent: frozenset[str] = frozenset(),
    now: datetime | None = None,
    carry_since: datetime | None = None,
) -> Selected:
    """Choose the reviews for ``period`` from ``collection``.

    ``already_sent`` holds the ids of reviews in earlier issues. ``now`` tells a review dated
    in the future from one merely after an explicit ``--until``; without it the end of the
    period counts as now. ``carry_since`` (``ledger.carry_since``) widens the window back to
    the previous issue's start, for the reviews it left out.
    """
    skipped: list[Skipped] = list(collection.skipped)
    in_window = _in_window(collection.reviews, period, now or period.end, skipped, carry_since)
    groups = _fold(_unambiguous(in_window), skipped)
    fresh: list[Review] = []
    for kept, ids in groups:
        if ids & already_sent:
            skipped.append(Skipped(kept.title, kept.source, REASON_SENT, "already-sent"))
        else:
            fresh.append(kept)
    ordered = sort_reviews(fresh, config.selection.order)
    cap = config.selection.max_reviews
    skipped.extend(
        Skipped(
            r.title,
            r.source,
            f"{REASON_CAP} ({cap}); raise selection.max_reviews or shorten the period",
            "over-cap",
        )
        for r in ordered[cap:]
    )
    reach = carry_since if carry_since is not None and carry_since < period.start else None
    return Selected(reviews=tuple(ordered[:cap]), skipped=tuple(skipped), reach=reach)


def _in_window(
    reviews: tuple[Review, ...],
    period: Period,
    now: datetime,
    skipped: list[Skipped],
    carry_since: datetime | None = None,
) -> list[Review]:
    kept: list[Review] = []
    for review in reviews:
        when = review.published
        shown = when.astimezone(period.start.tzinfo).strftime("%Y-%m-%d %H:%M")
        if when in period or (carry_since is not None and carry_since <= when < period.start):
            kept.append(review)
        elif when > now:
            skipped.append(
                Skipped(review.title, review.source, f"{REASON_FUTURE} ({shown})", "future")
            )
        else:
            side = "before" if when < period.start else "after"
            start = min(period.start, carry_since) if carry_since is not None else period.start
            edge = start if side == "before" else period.end
            bound = edge.astimezone(period.start.tzinfo).strftime("%Y-%m-%d %H:%M")
            skipped.append(
                Skipped(
                    review.title,
                    review.source,
                    f"outside the period (published {shown}, {side} {bound}); "
                    "use --since / --until to widen it",
                    "outside-period",
                )
            )
    return kept


def richness(review: Review) -> int:
    """How many of a review's optional fields are filled: the richer copy wins a fold."""
    image = review.image
    return sum(
        (
            bool(review.link),
            bool(review.author),
            bool(review.overview),
            review.facts is not None,
            len(review.sections),
            bool(review.verdict),
            review.grade is not None,
            image is not None,
            bool(image and image.alt),
            bool(image and image.credit),
        )
    )


#: Two link-less copies with the same title and year are one review only this close in time.
FOLD_WINDOW = timedelta(days=14)


def _fold(reviews: list[Review], skipped: list[Skipped]) -> list[tuple[Review, frozenset[str]]]:
    """Fold copies of one review into the richest; each kept review with all its copies' ids.

    The same review is: the same canonical link, or the same guid from the same source (a
    guid the source gives to entries with different links identifies nothing and is dropped,
    see ``_unambiguous``). Title and year fold two copies only when neither has a link and
    they are dated within ``FOLD_WINDOW`` of each other, so two posts a year apart, or two
    listings with one title, stay two reviews; since no key joins two different links, no
    chain of folds can merge them either.
    """
    # Union-find over "shares a key", so A~B by link and B~C by guid put A, B, C together.
    parent = list(range(len(reviews)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def join(i: int, j: int) -> None:
        a, b = root(i), root(j)
        parent[max(a, b)] = min(a, b)

    first_with: dict[tuple[str, ...], int] = {}
    by_title: dict[tuple[str, str], list[int]] = {}
    for i, review in enumerate(reviews):
        for key in _fold_keys(review):
            join(i, first_with.setdefault(key, i))
        if review.link is None:
            earlier = by_title.setdefault(review.fold_key(), [])
            for j in earlier:
                if abs(reviews[j].published - review.published) <= FOLD_WINDOW:
                    join(i, j)
            earlier.append(i)
    groups: dict[int, list[Review]] = {}  # insertion order: each group where it first appears
    for i, review in enumerate(reviews):
        groups.setdefault(root(i), []).append(review)

    folded: list[tuple[Review, frozenset[str]]] = []
    for copies in groups.values():
        # max() keeps the first of equals, so the earlier source wins a tie.
        kept = max(copies, key=richness)
        for other in copies:
            if other is not kept:
                reason = f"duplicate of “{kept.title}” from {kept.source}"
                skipped.append(
                    Skipped(other.title, other.source, reason, "duplicate", folded_into=kept)
                )
        folded.append((kept, frozenset().union(*(r.identities for r in copies))))
    return folded


def _unambiguous(reviews: list[Review]) -> list[Review]:
    """The reviews, without the guid a source gave to entries with different links.

    A feed that stamps one guid on every entry (it happens) would otherwise fold them all into
    one and, once one went out, count every later entry as already sent.
    """
    links: dict[tuple[str, str], set[str]] = {}
    for review in reviews:
        if review.guid and review.link:
            links.setdefault((review.source, review.guid), set()).add(canonical_link(review.link))
    return [
        r.without_guid() if r.guid and len(links.get((r.source, r.guid), ())) > 1 else r
        for r in reviews
    ]


def _fold_keys(review: Review) -> tuple[tuple[str, ...], ...]:
    keys: list[tuple[str, ...]] = []
    if review.link:
        keys.append(("link", canonical_link(review.link)))
    if review.guid:
        keys.append(("guid", review.source, review.guid))
    return tuple(keys)


def _grade_rank(review: Review) -> int:
    return -1 if review.grade is None else review.grade.rank


def sort_reviews(reviews: list[Review], order: str) -> list[Review]:
    """``newest``: newest first. ``grade``: best grade first, ungraded last, then newest."""
    by_newest = sorted(reviews, key=lambda r: (r.published, r.title), reverse=True)
    if order == "grade":
        # sorted() is stable, so reviews with equal grades stay newest first.
        return sorted(by_newest, key=_grade_rank, reverse=True)
    return by_newest
