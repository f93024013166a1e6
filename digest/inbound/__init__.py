"""Inbound mail: the bounces, complaints and ``mailto:`` unsubscribes that come back.

``report.py`` reads one message (DSN, ARF, auto-reply, non-standard bounce); ``imap.py`` talks
to the mailbox; ``process.py`` ties them to the state: each understood message is recorded,
then moved to ``inbound.processed_folder``; nothing is ever deleted, and a message that was not
understood, or matches no subscriber, stays where it was for a person to read.
"""
