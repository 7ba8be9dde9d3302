"""App factory: registers the pages (/, /similar, /join), the image route and the join exports on NiceGUI's
app, and runs it.

`build_app` holds no module-level state: everything shared lives in the GuiContext it returns, and each
page visit (each browser tab) builds its own page state.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading

from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from nicegui import Client, app, ui
from starlette.exceptions import HTTPException

from simages.gui.access import AccessGuard, needs_token, new_token
from simages.gui.context import GuiContext, ManagerLike
from simages.gui.pages.atlas import build_atlas
from simages.gui.pages.common import not_found_page
from simages.gui.pages.home import build_home
from simages.gui.pages.join import build_join
from simages.gui.pages.results import build_results
from simages.gui.pages.side_by_side import build_side_by_side
from simages.gui.pages.triage import build_triage
from simages.gui.routes.downloads import register_join_exports
from simages.gui.routes.image import query_values, register_image_route
from simages.gui.styles import CSS
from simages.settings import Settings

log = logging.getLogger(__name__)


def build_app(settings: Settings, manager: ManagerLike | None = None, *, read_only: bool = False,
              token: str | None = None) -> GuiContext:
    """Register pages and routes for these settings. Without a manager, an IndexManager is created and
    started with the app (and stopped with it); a given manager is left to its owner. `read_only`: no page
    acts on the user's files; `token`: every request needs it (gui.access), cross-site requests are
    refused either way."""
    if manager is None:
        from simages.jobs.manager import IndexManager  # imported late: tests may run without it

        manager = IndexManager(settings)
        app.on_startup(manager.start)
        # The network loads in the background from the start, so the first upload does not wait ~15 s.
        app.on_startup(manager.warm_up)
        app.on_shutdown(manager.stop)
    ctx = GuiContext(settings, manager, read_only=read_only)
    app.add_middleware(AccessGuard, token=token)
    app.on_startup(lambda: threading.Thread(target=_prune_thumbnails, args=(ctx,), daemon=True).start())
    problem = settings.check_weights()
    if problem:
        log.warning("%s", problem)
    register_image_route(app, ctx)
    register_join_exports(app, ctx)
    app.on_shutdown(lambda: ctx.joins.cancel_all())  # NiceGUI would pass the app as its first argument

    @ui.page("/", title="SIMages — find similar images")
    def home(request: Request) -> None:
        ui.add_css(CSS)
        build_home(ctx, query_values(request))

    @ui.page("/similar", title="SIMages — similar images")
    def similar(request: Request) -> None:
        ui.add_css(CSS)
        build_results(ctx, query_values(request))

    @ui.page("/atlas", title="SIMages — atlas")
    def atlas(request: Request) -> None:
        ui.add_css(CSS)
        build_atlas(ctx, query_values(request))

    @ui.page("/side", title="SIMages — two settings side by side")
    def side(request: Request) -> None:
        ui.add_css(CSS)
        build_side_by_side(ctx, query_values(request))

    @ui.page("/join", title="SIMages — set join")
    def join(request: Request) -> None:
        ui.add_css(CSS)
        build_join(ctx, query_values(request))

    @ui.page("/triage", title="SIMages — already in my collection?")
    def triage_page(request: Request) -> None:
        ui.add_css(CSS)
        build_triage(ctx, query_values(request))

    app.add_exception_handler(404, _not_found)
    return ctx


def _prune_thumbnails(ctx: GuiContext) -> None:
    try:
        removed = ctx.thumbnails.prune()
    except OSError as error:  # a cache is never worth failing the app for
        log.warning("could not prune the thumbnail cache: %s", error)
        return
    if removed:
        log.info("removed %d cached thumbnails of images that are gone", removed)


async def _not_found(request: Request, exception: Exception) -> Response:
    """A page of the app for unknown addresses. Routes that exist but answer 404 themselves (NiceGUI's own
    /_nicegui/... resources) keep their plain answer, as NiceGUI's default handler does; `/image` returns
    its 404s directly and never comes here."""
    is_route = request.scope.get("endpoint") is not None and not request.scope.get("nicegui_page_path")
    if is_route and isinstance(exception, HTTPException):
        return await http_exception_handler(request, exception)
    log.info("%s not found", request.url.path)
    with Client(ui.page(""), request=request) as client:
        ui.add_css(CSS)
        not_found_page(request.url.path)
    return client.build_response(request, 404)


def run_app(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 8080,
    native: bool = False,
    show: bool = False,
    manager: ManagerLike | None = None,
    read_only: bool = False,
) -> None:
    """Serve the app until interrupted; bound to localhost unless told otherwise. `native` opens a desktop
    window (needs pywebview) instead of a browser tab. Bound to any other address than 127.0.0.1 the app
    needs a secret token, printed at start as `http://HOST:PORT/?token=...` (gui.access)."""
    token = new_token() if needs_token(host) else None
    build_app(settings, manager, read_only=read_only, token=token)
    if token is not None:
        # All addresses (0.0.0.0, ::) are no address a browser can open: name this machine instead.
        where = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
        shown = f"http://{where}:{port}/?token={token}"
        app.on_startup(lambda: print(f"SIMages is served on the network at {shown}\n"
                                     "  (the token is needed for every page and action: share it only "
                                     "with whom may use the app)", flush=True))
    options: dict[str, object] = {}
    if native:
        # The pages are laid out for 1280x720 content; the window adds its title bar.
        options["window_size"] = (1280, 800)
    # Uvicorn shuts down gracefully on SIGINT/SIGTERM (the workers stop in on_shutdown), then raises the
    # signal again under the handlers it found. Python's defaults would end the process there with a
    # KeyboardInterrupt traceback, or kill it before its exit handlers release the queues' semaphores
    # ("leaked semaphore objects"); these handlers turn the repeat into a normal return instead.
    main_thread = threading.current_thread() is threading.main_thread()  # where signals can be handled
    previous = {number: signal.signal(number, _stopped) for number in (signal.SIGINT, signal.SIGTERM)
                if main_thread}
    try:
        ui.run(
            host=host,
            port=port,
            reload=False,
            show=show,
            native=native,
            title="SIMages",
            favicon="🔎",
            # NiceGUI's own message would print the address without the token.
            show_welcome_message=token is None,
            **options,
        )
    except ServerStopped as stop:
        log.info("stopped by %s", signal.Signals(stop.signal).name)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class ServerStopped(Exception):
    """The app was asked to stop by a signal (Ctrl+C, `kill`) and has shut down."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.signal = number


def _stopped(number: int, _frame: object) -> None:
    raise ServerStopped(number)
