"""digest: a weekly newsletter of a review publication's latest reviews.

The flow, one module per stage: ``sources/`` → ``collect`` → ``select`` → ``render`` →
``send`` → ``ledger``, with ``schedule``, ``web`` and ``cli`` on top and ``config``,
``models`` and ``db`` underneath.
"""

__version__ = "0.1.0"
