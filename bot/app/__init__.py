"""The use cases: what modbot does, on ports (forge, store), with no web, database or GitHub code."""
