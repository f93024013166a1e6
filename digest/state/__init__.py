"""The state: one SQLite file holding subscribers, issues, deliveries, runs and the HTTP cache.
Every table has one owner module here, and no SQL is written outside this package."""
