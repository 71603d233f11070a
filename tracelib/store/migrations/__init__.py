"""tracelib/store/migrations."""
