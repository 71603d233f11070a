"""tracelib/standards."""
