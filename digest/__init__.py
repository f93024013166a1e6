"""digest: a weekly newsletter of a review publication's latest reviews.

The flow, one package per stage: ``collect`` → ``select`` → ``render`` → ``deliver``, tied
together by ``pipeline`` (the one decision of what a period's issue holds), with ``schedule``,
``web`` and ``cli`` on top and ``errors``, ``status``, ``models``, ``config``, ``period`` and
``state`` underneath. ``tests/test_layers.py`` keeps imports pointing down that list.
"""

__version__ = "0.1.0"
