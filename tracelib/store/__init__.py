"""tracelib/store."""
