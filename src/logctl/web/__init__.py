"""The web viewer's static files (``static/``): plain HTML, CSS and ES modules, served by the hub."""
