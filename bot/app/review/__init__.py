"""The review of a change request's manifest: validate, diff, and say so (sticky comment, check, status)."""
