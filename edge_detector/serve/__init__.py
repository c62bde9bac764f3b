"""`edge-detect serve`: a web page and a REST API over the same pipeline (the ``serve`` extra).

``command`` is the click command (importable without the extra: it says how to install it),
``app`` builds the FastAPI application, ``api`` its routes, ``jobs`` the worker processes,
``worker`` one job in a worker process, ``outputs`` the sinks a job adds, ``upload``/``sniff``
take a file in, ``db`` records jobs in SQLite, ``settings`` holds the options and limits.
Nothing here is imported by the CLI unless ``serve`` is the first argument.
"""
