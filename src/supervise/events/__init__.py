"""Events for clinic systems: an outbox written in the transaction of each change, served as a change feed
(``/v1/events``) in commit order, described by a catalogue (``/v1/event-types``)."""
