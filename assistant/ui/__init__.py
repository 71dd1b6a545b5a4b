"""Presentation helpers of the web app: theme, CSS and HTML rendering (everything escaped)."""
