"""Select: which collected reviews go into one period's issue, and why the others do not.

In order: keep the reviews published inside the period (``start <= published < end``); fold
the same review from two sources into one (same canonical link, else same title and year),
keeping the copy with more fields filled; drop reviews already sent in an earlier issue (the
``already_sent`` ids — ``pipeline.issue`` passes them from the ledger); sort (newest first,
or by grade with ungraded reviews last); cap at ``selection.max_reviews``. Everything left out
becomes a ``Skipped`` with its reason, so ``digest sources`` can say why.

Pure: no I/O. ``pipeline.issue.prepare_issue`` reads the ledger and runs the collection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
    groups = _fold(in_window, skipped)
    fresh: list[Review] = []
    for kept, ids in groups:
        if ids & already_sent:
            skipped.append(Skipped(kept.title, kept.source, REASON_SENT))
        else:
            fresh.append(kept)
    ordered = sort_reviews(fresh, config.selection.order)
    cap = config.selection.max_reviews
    skipped.extend(
        Skipped(
            r.title,
            r.source,
            f"{REASON_CAP} ({cap}); raise selection.max_reviews or shorten the period",
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
            skipped.append(Skipped(review.title, review.source, f"{REASON_FUTURE} ({shown})"))
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


def _fold(reviews: list[Review], skipped: list[Skipped]) -> list[tuple[Review, frozenset[str]]]:
    """Fold copies of one review into the richest; each kept review with all its copies' ids."""
    # Union-find over "shares a key", so A~B by link and B~C by title put A, B, C together.
    parent = list(range(len(reviews)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[tuple[str, ...], int] = {}
    for i, review in enumerate(reviews):
        for key in _fold_keys(review):
            a, b = root(i), root(first_with.setdefault(key, i))
            parent[max(a, b)] = min(a, b)
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
                skipped.append(Skipped(other.title, other.source, reason))
        folded.append((kept, frozenset(r.id for r in copies)))
    return folded


def _fold_keys(review: Review) -> tuple[tuple[str, ...], ...]:
    title_key = ("title", *review.fold_key())
    if review.link:
        return (("link", canonical_link(review.link)), title_key)
    return (title_key,)


def _grade_rank(review: Review) -> int:
    return -1 if review.grade is None else review.grade.rank


def sort_reviews(reviews: list[Review], order: str) -> list[Review]:
    """``newest``: newest first. ``grade``: best grade first, ungraded last, then newest."""
    by_newest = sorted(reviews, key=lambda r: (r.published, r.title), reverse=True)
    if order == "grade":
        # sorted() is stable, so reviews with equal grades stay newest first.
        return sorted(by_newest, key=_grade_rank, reverse=True)
    return by_newest
