"""Read models: what a page (or the admin API) shows, computed from the store and the manifest core; pure
functions of their inputs, no web framework here."""
