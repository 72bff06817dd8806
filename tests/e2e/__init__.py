"""End-to-end tests: real processes, servers, git, cargo and a browser, the whole way through."""
