"""tracelib/kinds."""
