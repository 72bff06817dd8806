"""Chat-ops commands run: from a comment (`comment`), the admin API or the CLI (`service.execute`), with the
facts `authorize` decides on gathered from the forge and the store (`facts`)."""
