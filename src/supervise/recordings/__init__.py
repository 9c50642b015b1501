"""Cases (pseudonymous therapist-client dyads) and recordings (references to recorded sessions, never media)."""
