"""The project `bcapp new DIR` writes: an app of its own that depends on bcapp.

Each file under this folder is a template: `__package__` in a path or a text becomes the new
app's package name, and a path ending in `.tmpl` loses that ending (so the tools that check
bcapp never read the templates as bcapp's own code).
"""
