"""The HTTP edge: the webhook endpoint (verify, record, answer) and the admin API."""
