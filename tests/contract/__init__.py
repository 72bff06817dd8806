"""Contract tests: our code against a published description (GitHub's OpenAPI and webhook
examples, RusToK's source, the workflow schema and linters, our own API's schema), and one suite run
against every implementation of an interface (forges, the store)."""
