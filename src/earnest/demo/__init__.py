"""The demo: a whole market on the embedded defaults, worked by a simulated crowd over HTTP."""
