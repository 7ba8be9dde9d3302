"""The SIMages browser app (NiceGUI).

Layout: `app` registers everything on NiceGUI's app; `context` is what one app's pages share; `pages/` draws
`/`, `/similar` and `/join`; `join/` holds the join page's parts; `widgets/` the controls and panels pages
draw; `routes/` the HTTP routes that are not pages (`/image`, the join downloads); `urls/` page state as URL
parameters and back; `uploads/` uploaded key images. Importing this package imports nothing else, so the
CLI can use `simages.gui.native` or `simages.gui.urls` without NiceGUI.
"""
