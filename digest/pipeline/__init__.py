"""The pipeline: the one decision of what a period's issue holds, and what is done with it
(sent, dry-run, test copy, built into files)."""
