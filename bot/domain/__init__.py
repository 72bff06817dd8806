"""The vocabulary every layer shares, written once: ids and patterns (`ids`), text helpers (`text`).

Pure: imports nothing of modbot above it (no web, forge, store, handlers, chatops or cli), so that the
manifest and pipeline core, the use cases and every adapter can check a value with the same rule.
"""
