"""Use cases: what SIMages does for a user, once, for every front end.

One module per use case (query, join, duplicates; triage, atlas, train as they arrive). Each takes a typed
request (a frozen dataclass naming validated sets and images, never paths) and returns one typed answer (a
dataclass: the rows, the settings actually used -- intent, metric, predicate, threshold -- and the search
actually used: exact, ANN or pivots). Errors are the user-facing exceptions of the layers below (LookupError
for an unknown set or image, ValueError for a bad parameter, StoreError for an unreadable store), raised,
never printed.

The CLI commands (`simages.cli.*_cmd`) and the pages (`simages.gui`) adapt these: parse arguments or URL
parameters into a request, draw or print the answer. Nothing here imports from `simages.cli` or
`simages.gui`, nor NiceGUI, FastAPI, Keras or torch at import time.

Caches are passed in (a `DescriptorCache` is an argument, never a module global read here), so the app
keeps one per app and the CLI one per process, and a large set is never held twice.
"""
