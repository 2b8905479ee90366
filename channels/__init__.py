"""Our own Rasa input/output channels: REST (local use and tests), and later Telegram, WhatsApp and web.

Each connector reads like a recipe: parse, authenticate (fail closed), de-duplicate, clean the text
(``bot.inbound``), hand one ``UserMessage`` to Rasa, answer quickly.
"""
