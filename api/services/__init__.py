"""What the routes do: queries, Temporal calls, object-level authorisation checks
(`Access.check`), audit rows (`audit.record`) and data-subject requests (`dsr`)."""
