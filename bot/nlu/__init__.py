"""Custom Rasa NLU components: Arabic normalization, language/audience signals, the danger net."""
