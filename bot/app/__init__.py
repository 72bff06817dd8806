"""The use cases: a change request's review, admin actions turned into change requests (proposals), chat-ops
commands, the follow-ups of deployments and builds, and rebuilding the store from the forge (sync).

They take a forge (bot.forge's capabilities) and the store and return what they did; no HTTP, no
PyGithub. Internal layers, outer over inner (pyproject.toml's import-linter contracts):
commands | followups | proposals | sync  >  review  >  chatops (the commands' grammar, rules and replies)
>  contract | policy | releases."""
