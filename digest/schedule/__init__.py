"""On its own: the cron trigger, the idempotent tick, and the foreground scheduler."""
