"""The built-in web chat: a page served by the bot itself, the default channel that needs no
chat-platform credentials. channel.py is the adapter, links.py makes sign-in links, demo.py
seeds the demo company that `make run` starts with."""
