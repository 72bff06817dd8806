"""The interfaces the use cases depend on; adapters (bot.store, bot.forge) implement them."""
