"""tracelib/store/migrations/versions."""
