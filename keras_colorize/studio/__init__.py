"""An interactive colorization page: ``python -m keras_colorize.studio photo.jpg``.

A local web page shows the photo, takes colour points and a reference photo,
and re-colorizes a preview after every edit; keras_colorize.studio.server
explains the design and the HTTP API.
"""
