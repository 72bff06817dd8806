"""Pure decisions: an event (and what the forge returns) in, what to write out. No HTTP here."""
