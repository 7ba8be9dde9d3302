"""The join's downloads: `/join.csv?<the page's parameters>` and `/join.json?<...>`.

The CSV is `simages join A B ... --output -` byte for byte ("all other sets": `simages join A B1 B2 ...`
with those sets): it comes from the same generator (operations.join_listing.csv_rows), streamed as the
join runs, so no join is too large to export. Unless B is A, names are `set/image`; a range self-join
lists each pair of images once. The JSON has the shape of `simages duplicates --format json`: the
threshold (null for a kNN join), every pair, and the groups.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from simages.copies.levels import Level
from simages.copies.pixels import image_files
from simages.gui.context import GuiContext
from simages.gui.join.setup import JoinProblem, ResolvedJoin, resolve
from simages.gui.routes.image import query_values
from simages.gui.urls.join import join_from_params
from simages.gui.urls.query import InvalidQuery
from simages.jobs.join_runner import DONE
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.core.results import Pair
from simages.nearest.duplicates.exact import DuplicateReport, pair_levels
from simages.nearest.joins.pairs import node
from simages.operations import schema
from simages.operations.join import JoinRequest, open_sets
from simages.operations.join_listing import csv_rows, pair_level_reader
from simages.store.npz_store import StoreError

# A JSON answer lists every pair; beyond the pairs the app keeps, the CSV is the way.
_JSON_WAIT_SECONDS = 600


def _lines(rows: Iterator[list[list[str]]]) -> Iterator[bytes]:
    """CSV text in pieces of about 64 KB: few writes, and memory bounded however long the join. UTF-8,
    with each file name written as its own bytes (as the CLI's CSV, `cli/output.py`), so names that are
    not UTF-8 name the same files instead of failing the download half way."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for chunk in rows:
        writer.writerows(chunk)
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8", "surrogateescape")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8", "surrogateescape")


def join_csv_rows(ctx: GuiContext, request: JoinRequest) -> Iterator[list[list[str]]]:
    """The CSV rows of a join, its sets loaded (as its intent reads them) and checked first, so a problem
    is an HTTP error, not a broken download. NotIndexed, StoreError, or ValueError for sets of different
    descriptors. A duplicates join's rows end with each pair's level, as `simages join` writes them."""
    a, bs = open_sets(request, ctx.settings, ctx.descriptors, apply_chosen=False)
    level_of = None
    if request.intent == DUPLICATES.name:
        level_of = pair_level_reader(a, bs, request.spec, image_files(ctx.settings.image_sets))
    return csv_rows(a, bs, request.spec, level_of=level_of)


def download_name(request: JoinRequest, suffix: str) -> str:
    """The suggested file name of a download: `join-A-B.csv`, `join-A-B-groups.json`."""
    b = request.bs[0] if len(request.bs) == 1 else "all-other-sets"
    return f"join-{request.a}-{b}{suffix}"


def attachment(filename: str) -> dict[str, str]:
    """The header that makes a browser save the response as `filename` instead of showing it in place of
    the page (a JSON answer was shown, replacing the join). A header is Latin-1 text: the plain name has
    "_" for anything else, and RFC 6266's `filename*` carries the name in UTF-8 for browsers that read it."""
    plain = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    encoded = quote(filename.encode("utf-8", "surrogateescape"), safe="")
    return {"Content-Disposition": f"attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}"}


def groups_json(ctx: GuiContext, resolved: ResolvedJoin) -> dict[str, Any] | None:
    """{"threshold", "metric", "sets", "pairs": [{"a", "b", "score"(, "level")}], "groups": [[...]]} as
    `DuplicateReport.to_json` writes it (names `set/image`, full precision; threshold null for a kNN join);
    None when the join passes more pairs than the app keeps."""
    job = ctx.joins.start(resolved.request)
    job.wait(_JSON_WAIT_SECONDS)
    if job.state != DONE or job.outcome is None:
        raise JoinProblem("The join did not finish", job.error or f"the join was {job.state}", 500)
    outcome = job.outcome
    if not outcome.pairs.complete:
        return None
    spec, request = resolved.request.spec, resolved.request
    # A self-join's x ~ y and y ~ x once, as `simages duplicates` lists them.
    pairs = [Pair(node(outcome.pairs.a_set, p.a), node(p.b_set, p.b), p.score)
             for p in (outcome.pairs.pairs[i] for i in outcome.pairs.distinct)]
    known = [outcome.levels[i] for i in outcome.pairs.distinct] if outcome.levels is not None else None
    threshold = float(spec.param) if spec.predicate == "range" else float("nan")
    within = request.bs == (request.a,)
    sets = (request.a,) if within else (request.a, *request.bs)
    levels: tuple[Level, ...] = ()
    if request.intent == DUPLICATES.name:  # scores in the duplicates space: each pair has its level
        indexes = [ctx.descriptors.get(ctx.settings, name, DUPLICATES) for name in (request.a, *request.bs)]
        levels = tuple(known) if known is not None else tuple(
            pair_levels(pairs, indexes, spec.metric, image_files(ctx.settings.image_sets)))
    body = DuplicateReport(spec.metric, threshold, pairs, outcome.groups, sets, within, levels).to_json()
    index = schema.ANN if outcome.search == "ann-graph" else schema.BRUTE
    # The JSON schema of every answer (operations.schema), then the report's own keys.
    body = {**schema.header(request.intent, list(sets), index, spec), **body}
    if spec.predicate != "range":
        body["threshold"] = None
    return body


def _resolved(ctx: GuiContext, request: Request) -> ResolvedJoin:
    try:
        state = join_from_params(query_values(request))
    except InvalidQuery as error:
        raise JoinProblem("This link does not describe a join", str(error), 400) from None
    return resolve(ctx, state)


def register_join_exports(app: FastAPI, ctx: GuiContext) -> None:
    # Plain `def`s: FastAPI runs them in its thread pool, and Starlette iterates a plain generator there
    # too, so a long export never blocks the event loop.
    def join_csv(request: Request) -> Response:
        try:
            resolved = _resolved(ctx, request)
            rows = join_csv_rows(ctx, resolved.request)
        except JoinProblem as problem:
            return PlainTextResponse(problem.message, status_code=problem.status)
        except (ValueError, LookupError, StoreError) as error:
            return PlainTextResponse(str(error), status_code=409)
        return StreamingResponse(_lines(rows), media_type="text/csv",
                                 headers=attachment(download_name(resolved.request, ".csv")))

    def join_json(request: Request) -> Response:
        try:
            resolved = _resolved(ctx, request)
            body = groups_json(ctx, resolved)
        except JoinProblem as problem:
            return PlainTextResponse(problem.message, status_code=problem.status)
        if body is None:
            return PlainTextResponse("the join passes too many pairs to list as JSON: use a tighter "
                                     "threshold or download the CSV", status_code=413)
        return Response(json.dumps(body), media_type="application/json",
                        headers=attachment(download_name(resolved.request, "-groups.json")))

    app.add_api_route("/join.csv", join_csv, methods=["GET"], include_in_schema=False)
    app.add_api_route("/join.json", join_json, methods=["GET"], include_in_schema=False)
