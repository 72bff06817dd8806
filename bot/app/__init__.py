"""The use-case layer: what modbot does for its users and what it shows them (queries)."""
