"""Review requests, reviews, annotations and their lifecycle."""
