"""Simulated-user tests of the join page (`/join`), its entry on the start page and its downloads."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from nicegui import ui
from nicegui.functions.navigate import History
from nicegui.testing.user_interaction import UserInteraction

from simages.cli import main as cli_main
from simages.gui.join.views import KEYS_PER_PAGE, PAIRS_PER_PAGE
from simages.jobs import join_runner
from simages.nearest.core.display import format_threshold, threshold_from_score
from simages.nearest.core.intents import DUPLICATES
from simages.nearest.duplicates.exact import duplicate_threshold, find_duplicates
from tests.gui_fixtures import (
    current_query,
    demo_root,
    gui_app,
    make_images,
    new_user,
    only,
    vectors_for,
    write_store,
)

SELF = "/join?a=animals&b=animals"


@pytest.fixture
def shown_url(monkeypatch):
    """The page's URL after in-place changes: the simulation does not follow history.replace, so the
    replacements are recorded; returns the last one's parameters (and path)."""
    replaced: list[str] = []
    monkeypatch.setattr(History, "replace", lambda _history, url: replaced.append(url))

    def last() -> dict[str, str]:
        url = urlparse(replaced[-1])
        return {k: v[0] for k, v in parse_qs(url.query).items()} | {"path": url.path}

    return last


def pair_scores(user) -> list[float]:
    labels = sorted(user.find(marker="pair-score").elements, key=lambda e: e.id)
    return [float(label.text.split()[-1]) for label in labels]


def marked(user, prefix: str) -> list[str]:
    """The markers starting with `prefix` on the page, in the order their elements were drawn."""
    elements = sorted(user.find(kind=ui.element).elements, key=lambda e: e.id)
    return [m for e in elements for m in e._markers if m.startswith(prefix)]


def pair_markers(user) -> list[str]:
    return marked(user, "pair:")


def cli_csv(capsys, root, *args: str) -> str:
    capsys.readouterr()
    assert cli_main(["--root", str(root), "join", *args, "--output", "-"]) == 0
    return capsys.readouterr().out


async def test_self_join_lists_pairs_best_first_with_links(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(SELF + "&predicate=knn&param=3")
        await user.should_see(marker="pairs-view", retries=50)
        assert only(user, "summary").text == (
            "The 3 most similar images in animals of each of the 12 images of animals: 36 pairs (directed: "
            "each image's own nearest, so a pair of images can be listed from both ends, and y can be among "
            "x's nearest without x among y's)")
        values = pair_scores(user)
        assert len(values) == PAIRS_PER_PAGE and values == sorted(values, reverse=True)
        seen = set()
        for marker in pair_markers(user):
            a, b = marker.removeprefix("pair:").split("|")
            assert "animals/" + a != b  # a self-join never pairs an image with itself
            edge = frozenset(("animals/" + a, b))
            assert edge not in seen  # x ~ y and y ~ x are listed once
            seen.add(edge)
        link = user.find(marker="pair-a").elements.pop()
        assert link.props["href"].startswith("/similar?key_set=animals&image=")
        await user.should_see(marker="histogram", retries=50)
        await user.should_see(marker="pager", retries=50)
        await user.should_see(marker="teaching-panel")  # issue 18's "How was this computed?", closed


async def test_range_join_counts_pairs_out_of_all(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=plants&metric=euclidean&predicate=range&param=0.5")
        await user.should_see(marker="summary", retries=50)
        await user.should_see("of 84 pairs of animals × plants have distance ≤ 0.5", retries=50)
        passed = int(only(user, "summary").text.split()[0].replace(",", ""))
        names_a = sorted(p.name for p in (tmp_path / "image_sets" / "animals").rglob("*.png"))
        assert len(names_a) == 12
        # The count agrees with a brute-force join of the same stored vectors.
        from simages.nearest.sets.cache import default_cache

        a = default_cache.get(settings, "animals")
        b = default_cache.get(settings, "plants")
        distances = np.linalg.norm(a.vectors[:, None, :] - b.vectors[None, :, :], axis=2)
        assert passed == int((distances <= 0.5).sum())


async def test_switch_views_page_and_url(tmp_path, shown_url):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=plants&predicate=knn&param=2")
        await user.should_see(marker="pairs-view", retries=50)
        toggle = only(user, "view")
        assert "groups" not in toggle.options  # a kNN join between two sets links everything: no groups
        assert not marked(user, "pair-level:")  # similar images: likeness, no copy levels
        with user:
            toggle.value = "knn"
        await user.should_see(marker="knn-view", retries=50)
        assert shown_url()["view"] == "knn"
        assert len(marked(user, "knn:")) == KEYS_PER_PAGE
        with user:
            only(user, "pager").value = 2
        await user.should_see(marker="knn:sub/ani009.png")
        assert shown_url()["page"] == "2" and shown_url()["view"] == "knn"

        await user.open(SELF + "&predicate=range&param=0.96&view=knn")
        await user.should_see(marker="match-summary", retries=50)
        matched = int(only(user, "match-summary").text.split()[0])
        assert matched == 3 and len(marked(user, "knn:")) == 3
        await user.should_not_see(marker="no-match")  # a range join lists the images with a match

        await user.open(SELF + "&predicate=range&param=0.96&view=groups")
        await user.should_see(marker="groups-view", retries=50)
        # Three images have a match scoring 0.97 or more, all linked: one group.
        assert only(user, "group-summary").text == "1 group, 3 images"


async def test_groups_are_connected_components(tmp_path):
    settings, manager = demo_root(tmp_path, {"dups": 9})
    names = sorted(p.relative_to(tmp_path / "image_sets" / "dups").as_posix()
                   for p in (tmp_path / "image_sets" / "dups").rglob("*.png"))
    # Three clusters of three nearly identical vectors, far apart: three groups of three.
    vectors = np.repeat(np.eye(8, dtype=np.float32)[:3], 3, axis=0) + 0.001 * np.arange(9)[:, None]
    write_store(settings, "dups", names, vectors.astype(np.float32))
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=dups&b=dups&predicate=range&param=0.99&view=groups")
        await user.should_see("3 groups, 9 images", retries=50)
        await user.should_see(marker="group:3", retries=50)
        # Each image pairs with the two others of its cluster: 9 pairs of images out of 9 x 8 / 2, each
        # listed once (as the CSV lists them), the threshold as typed.
        assert only(user, "summary").text == ("9 of 36 pairs of images of dups have similarity ≥ 0.99, "
                                              "each pair listed once")
        with user:
            only(user, "view").value = "pairs"
        await user.should_see(marker="pairs-view", retries=50)
        assert len(pair_markers(user)) == 9


async def test_histogram_click_sets_the_threshold(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(SELF + "&predicate=knn&param=3")
        await user.should_see(marker="histogram", retries=50)
        edges = [point[0] for point in only(user, "histogram").options["series"][0]["data"]]
        clicked = edges[len(edges) // 2] + 1e-5  # where the browser's pointer was, on the score axis
        user.find(marker="histogram").trigger("click", clicked)
        # Written toward the side that keeps the score clicked: the threshold shown is the threshold used.
        text = threshold_from_score(clicked, "cosine")
        await user.should_see(f"have similarity ≥ {format_threshold(float(text))}", retries=50)
        query = current_query(user)  # a new join: a page and history entry of its own
        assert query["path"] == "/join" and query["predicate"] == "range" and query["param"] == text
        assert only(user, "param").value == text
        await user.should_see(marker="pairs-view", retries=50)
        assert pair_scores(user) and all(v >= float(text) for v in pair_scores(user))
        chart = only(user, "histogram")
        assert chart.options["series"][0]["markLine"]["data"][0]["xAxis"] == float(text)


async def test_results_page_histogram_sets_the_threshold(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/similar?key_set=animals&image=ani001.png&set=animals")
        await user.should_see(marker="histogram", retries=50)
        user.find(marker="histogram").trigger("click", 0.9)
        await user.should_see("have similarity ≥ 0.9", retries=50)
        query = current_query(user)
        assert query["path"] == "/similar" and query["predicate"] == "range" and query["param"] == "0.900"


async def test_compare_steps_through_pairs(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(SELF + "&predicate=knn&param=2")
        await user.should_see(marker="pairs-view", retries=50)
        first, second = pair_markers(user)[:2]
        dialog = user.find(kind=ui.dialog).elements.pop()
        cards = sorted(user.find(marker="pair-images").elements, key=lambda e: e.id)
        UserInteraction(user, {cards[0]}, None).click()  # the best pair's two thumbnails
        assert dialog.value

        def shown() -> list[str]:
            images = sorted(user.find(marker="viewer-image").elements, key=lambda e: e.id)
            return [img.props["src"] for img in images if img.visible]

        a, b = first.removeprefix("pair:").split("|")
        srcs = shown()
        assert len(srcs) == 2 and "size=full" in srcs[0]
        assert a.split("/")[-1] in srcs[0] and b.split("/")[-1] in srcs[1]
        await user.should_see(marker="viewer-info", retries=50)

        def press(key: str) -> None:
            args = {"action": "keydown", "repeat": False, "altKey": False, "ctrlKey": False, "metaKey": False,
                    "shiftKey": False, "key": key, "code": key, "location": 0}
            user.find(kind=ui.keyboard).trigger("key", args)

        press("ArrowRight")
        a2, b2 = second.removeprefix("pair:").split("|")
        assert a2.split("/")[-1] in shown()[0] and b2.split("/")[-1] in shown()[1]
        press("Escape")
        assert not dialog.value


@pytest.fixture
def slow_join(monkeypatch):
    """Joins that wait at every image of A until the test lets them go on."""
    gate = threading.Event()
    real = join_runner.iter_multi_join

    def slow(a, bs, spec):
        for row in real(a, bs, spec):
            gate.wait(10)
            yield row

    monkeypatch.setattr(join_runner, "iter_multi_join", slow)
    yield gate
    gate.set()


async def test_cancel_while_other_tabs_keep_working(tmp_path, slow_join):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        await user.open(SELF + "&predicate=knn&param=3")
        await user.should_see(marker="cancel", retries=50)
        await user.should_see("Joining: 0 of 12 images of animals", retries=50)
        other = new_user(user)
        await other.open("/similar?key_set=animals&image=ani001.png&set=plants")
        await other.should_see("The 7 most similar of 7 images in plants, by cosine similarity", retries=50)
        user.find(marker="cancel").click()
        slow_join.set()
        await user.should_see("Join cancelled", retries=50)
        await user.should_see(marker="rerun", retries=50)
        assert ctx.joins.started == 1
        user.find(marker="rerun").click()  # a cancelled join is not cached: it runs again
        await user.should_see(marker="pairs-view", retries=50)
        assert ctx.joins.started == 2


async def test_finished_joins_are_cached_until_a_store_changes(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (ctx, user):
        await user.open(SELF + "&predicate=knn&param=3")
        await user.should_see(marker="pairs-view", retries=50)
        await user.open(SELF + "&predicate=knn&param=3&view=knn")
        await user.should_see(marker="knn-view", retries=50)
        assert ctx.joins.started == 1  # another view of the same join: nothing computed again
        names = ctx.descriptors.get(settings, "animals").names
        write_store(settings, "animals", names, vectors_for(names, seed=7))
        await user.open(SELF + "&predicate=knn&param=3")
        await user.should_see(marker="pairs-view", retries=50)
        assert ctx.joins.started == 2  # re-indexed: joined again


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("/join?a=animals", "the link names no set B (the set searched)"),
        ("/join?b=animals", "the link names no set A (the keys)"),
        ("/join?a=..&b=animals", "set name"),
        ("/join?a=animals&b=animals&metric=manhattan", "unknown metric 'manhattan'"),
        ("/join?a=animals&b=animals&predicate=top", "unknown predicate 'top'"),
        ("/join?a=animals&b=animals&view=table", "unknown view 'table'"),
        ("/join?a=animals&b=animals&page=0", "page must be a positive whole number"),
        ("/join?a=animals&b=plants&others=1", "choose one"),
    ],
)
async def test_invalid_links_get_a_clear_page(tmp_path, url, message):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open(url)
        await user.should_see("This link does not describe a join", retries=50)
        assert message in only(user, "error-message").text


async def test_unknown_sets_and_bad_parameters_say_why(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=nosuchset")
        await user.should_see("There is no image set named “nosuchset” (set B).", retries=50)
        await user.open(SELF + "&predicate=range&param=2")
        await user.should_see("a cosine similarity threshold must lie between -1 and 1, got 2", retries=50)
        await user.open(SELF + "&predicate=knn&param=abc")
        await user.should_see("k must be a positive integer, got 'abc'", retries=50)


async def test_csv_download_equals_the_cli(tmp_path, capsys):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        for query, args in [
            ("a=animals&b=animals&predicate=knn&param=3", ["animals", "animals", "--knn", "3"]),
            ("a=animals&b=plants&metric=euclidean&predicate=range&param=0.6",
             ["animals", "plants", "--metric", "euclidean", "--range", "0.6"]),
            ("a=plants&b=animals&predicate=range&param=0.99&expand=0",
             ["plants", "animals", "--range", "0.99", "--no-expansion"]),
        ]:
            response = await user.http_client.get("/join.csv?" + query)
            assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
            assert "attachment" in response.headers["content-disposition"]
            assert response.text == cli_csv(capsys, tmp_path, *args)
            assert response.text.count("\n") > 1
        response = await user.http_client.get("/join.csv?a=animals&b=nosuchset&predicate=knn&param=3")
        assert response.status_code == 404 and "nosuchset" in response.text
        response = await user.http_client.get("/join.csv?a=animals&b=animals&predicate=knn&param=-1")
        assert response.status_code == 400 and "k must be a positive integer" in response.text
        names = make_images(tmp_path, "other", 4, prefix="oth")
        write_store(settings, "other", names, np.ones((4, 8), np.float32), descriptor="gap+l2")
        response = await user.http_client.get("/join.csv?a=animals&b=other&predicate=knn&param=1")
        assert response.status_code == 409 and "re-index one of them" in response.text
        await user.open("/join?a=animals&b=other&predicate=knn&param=1")
        await user.should_see("This join cannot run", retries=50)
        await user.should_see(marker="problem")


async def test_the_default_threshold_of_a_join_lets_through_the_pairs_it_came_from(tmp_path):
    """Review finding 1: with no threshold, a "similar" range join suggests one from its own pairs (A
    against B, sampled), written so that the pair it was taken from passes: never "0 of N pairs"."""
    settings, manager = demo_root(tmp_path, {"animals": 12, "plants": 7, "trees": 5})
    async with gui_app(settings, manager) as (_, user):
        for query in ("a=animals&b=animals", "a=plants&b=animals", "a=trees&others=1"):
            await user.open(f"/join?{query}&intent=similar&predicate=range")
            await user.should_see(marker="pairs-view", retries=50)
            assert not only(user, "summary").text.startswith("0 of"), query
            assert pair_scores(user)


async def test_csv_rows_each_pair_once_and_trace_back_to_their_files(tmp_path, capsys):
    """Review findings 8 and 9: a range self-join's CSV has one row per pair of images (a < b), as many as
    the page counts; a join against other sets names every image `set/image`, one other set or several,
    and `simages join A B1 B2` writes the very same file."""
    settings, manager = demo_root(tmp_path, {"animals": 12, "plants": 7, "trees": 5})
    async with gui_app(settings, manager) as (_, user):
        for param in ("-1", ""):  # every pair; the suggested threshold (it lets through at least one)
            query = f"a=animals&b=animals&predicate=range&param={param}"
            await user.open(f"/join?{query}")
            await user.should_see(marker="pairs-view", retries=50)
            response = await user.http_client.get(f"/join.csv?{query}")
            rows = [row.split(",") for row in response.text.splitlines()[1:]]
            assert rows and all(a < b for a, b, _ in rows)
            assert len({(a, b) for a, b, _ in rows}) == len(rows)
            assert len(rows) == 12 * 11 // 2 if param else len(rows) >= 1
            summary = only(user, "summary").text
            assert summary.startswith(f"{len(rows)} of {12 * 11 // 2} pairs of images of animals")
            assert len(pair_markers(user)) == min(len(rows), PAIRS_PER_PAGE)
            threshold = param or only(user, "param").value
            assert response.text == cli_csv(capsys, tmp_path, "animals", "animals", "--range", threshold)
        for query, sets in (("b=plants", ["plants"]), ("others=1", ["plants", "trees"])):
            response = await user.http_client.get(f"/join.csv?a=animals&{query}&predicate=knn&param=2")
            rows = [row.split(",") for row in response.text.splitlines()[1:]]
            assert len(rows) == 24
            for a, b, _ in rows:
                assert (tmp_path / "image_sets" / a).is_file() and (tmp_path / "image_sets" / b).is_file()
                assert b.split("/")[0] in sets
            assert response.text == cli_csv(capsys, tmp_path, "animals", *sets, "--knn", "2")
        # With a single other set, "all other sets" is that set, and writes the same names.
        single = await user.http_client.get("/join.csv?a=plants&b=trees&predicate=knn&param=1")
        assert all(row.startswith("plants/") for row in single.text.splitlines()[1:])


async def test_all_other_sets_and_groups_json(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 12, "plants": 7, "trees": 5})
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&others=1&predicate=knn&param=2")
        await user.should_see(marker="pairs-view", retries=50)
        await user.should_not_see(marker="teaching-panel")  # it explains a join of two sets only
        assert "of 2 other sets" not in only(user, "summary").text
        assert "in 2 other sets of each of the 12 images of animals: 24 pairs" in only(user, "summary").text
        response = await user.http_client.get("/join.csv?a=animals&others=1&predicate=knn&param=2")
        rows = response.text.splitlines()
        assert rows[0] == "a,b,score" and len(rows) == 25
        assert {row.split(",")[1].split("/")[0] for row in rows[1:]} <= {"plants", "trees"}

        response = await user.http_client.get("/join.json?a=animals&b=animals&predicate=range&param=0.96")
        body = response.json()
        assert set(body) == {"schema", "intent", "index", "predicate", "param", "threshold", "metric", "sets",
                             "pairs", "groups"} and body["threshold"] == 0.96
        assert (body["schema"], body["intent"], body["index"]) == (1, "similar", "brute")
        assert body["sets"] == ["animals"] and body["metric"] == "cosine"
        assert all(set(p) == {"a", "b", "score"} and p["score"] >= 0.96 for p in body["pairs"])
        edges = [frozenset((p["a"], p["b"])) for p in body["pairs"]]
        assert edges and len(edges) == len(set(edges))  # each pair of images once
        linked = {name for p in body["pairs"] for name in (p["a"], p["b"])}
        assert {name for g in body["groups"] for name in g} == linked
        assert all(name.startswith("animals/") for name in linked)


async def test_duplicates_intent_matches_simages_duplicates(tmp_path, capsys):
    """The duplicates intent on the page is `find_duplicates` of the duplicates module: same pairs (each
    once), same scores, same groups; its CSV is `simages join --intent duplicates`."""
    settings, manager = demo_root(tmp_path, {"animals": 30})
    async with gui_app(settings, manager) as (ctx, user):
        await user.open("/join?a=animals&b=animals&intent=duplicates&predicate=range")
        await user.should_see(marker="pairs-view", retries=50)
        index = ctx.descriptors.get(settings, "animals", DUPLICATES)
        threshold = duplicate_threshold("cosine", index)
        param = threshold_from_score(threshold, "cosine")
        await user.should_see(f"have similarity ≥ {format_threshold(float(param))}", retries=50)  # default
        await user.should_see("Duplicates: copies of the same photo", retries=50)  # which intent ran
        report = find_duplicates([index], float(param))
        response = await user.http_client.get(
            f"/join.json?a=animals&b=animals&intent=duplicates&predicate=range&param={param}")
        body = response.json()
        expected = report.to_json()
        assert body["groups"] == expected["groups"] and body["sets"] == expected["sets"]
        got = {frozenset((p["a"], p["b"])): p["score"] for p in body["pairs"]}
        want = {frozenset((p["a"], p["b"])): p["score"] for p in expected["pairs"]}
        assert got.keys() == want.keys() and len(got) > 0
        assert all(abs(got[k] - want[k]) < 1e-6 for k in got)
        # Each pair's level, on the page and in the JSON, is the one `simages duplicates` gives it.
        levels = {frozenset((p["a"], p["b"])): p["level"] for p in body["pairs"]}
        assert levels == {frozenset((p["a"], p["b"])): p["level"] for p in expected["pairs"]}
        shown = [marker.split(":", 1)[1] for marker in marked(user, "pair-level:")]
        assert len(shown) == min(len(levels), PAIRS_PER_PAGE) and set(shown) <= {"exact", "edited"}
        response = await user.http_client.get(
            f"/join.csv?a=animals&b=animals&intent=duplicates&predicate=range&param={param}")
        assert response.text == cli_csv(capsys, tmp_path, "animals", "animals", "--intent", "duplicates",
                                        "--range", param)


async def test_start_page_offers_the_join(tmp_path):
    settings, manager = demo_root(tmp_path)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/")
        await user.should_see(marker="join-entry", retries=50)
        await user.should_see("Or join two sets / find duplicates", retries=50)
        with user:
            only(user, "entry-b").value = "plants"
        user.find(marker="entry-run").click()
        await user.should_see(marker="summary", retries=50)
        query = current_query(user)
        assert query["path"] == "/join" and query["a"] == "animals" and query["b"] == "plants"
        await user.should_see("pairs of animals × plants have similarity ≥", retries=50)
        await user.open("/")
        with user:
            only(user, "entry-b").value = "/all-other-sets"
        user.find(marker="entry-run").click()
        await user.should_see(marker="summary", retries=50)
        assert current_query(user).get("others") == "1"


async def test_join_tiles_show_the_set_and_keep_the_extension_of_long_names(tmp_path):
    settings, manager = demo_root(tmp_path, {"animals": 4})
    long_name = "holiday_photos_taken_by_the_camera_on_the_beach_at_sunset_2024_0512.png"
    make_images(tmp_path, "trips", 1)
    trips = tmp_path / "image_sets" / "trips"
    (trips / "sub" / "img000.png").rename(trips / long_name)
    (trips / "sub").rmdir()
    write_store(settings, "trips", [long_name])
    manager.set("trips", state="indexed", count=1)
    async with gui_app(settings, manager) as (_, user):
        await user.open("/join?a=animals&b=trips&predicate=knn&param=1&view=knn")
        await user.should_see(marker="knn-view", retries=50)
        row = only(user, "knn:ani001.png")  # the key's tile, then its match's, 104 px wide each
        captions = [e for e in row.descendants() if "thumb-caption" in e.classes]
        parts = [[(label.classes[0], label.text) for label in caption.descendants()
                  if isinstance(label, ui.label)] for caption in captions]
        # Each tile names its set; a long name is cut in the middle, never in its end and extension.
        assert parts == [
            [("thumb-caption-set", "animals/"), ("thumb-caption-base", "ani001.png")],
            [("thumb-caption-set", "trips/"), ("thumb-caption-dir", long_name[:-len("4_0512.png")]),
             ("thumb-caption-base", "4_0512.png")],
        ]
