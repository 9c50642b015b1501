"""Client ratings: a client's own rating of a session (SRS, WAI-SR), given through a clinic system's integration
key or through a one-time form link, and stored as a review with role ``client``."""
