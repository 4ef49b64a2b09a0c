"""The Codex rollout reader over real files written from the public format (codex_rollouts)."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

import pytest

from tests.codex_rollouts import (
    LEGACY,
    SHAPES,
    V0_14X,
    V0_14X_V2,
    V0_31,
    V0_31_NO_CONTEXT,
    V0_40,
    V0_45,
    V0_58,
    Rollout,
    Shape,
    expected,
    feed,
    iso,
    totals,
)
from tui_monitor.sessions.codex import CodexReader, codex_home, is_rollout, rollout_dirs
from tui_monitor.sessions.records import (
    RateLimit,
    SessionActivity,
    SessionError,
    SessionInfo,
    SessionUsage,
)

T0 = 1_780_000_000.0  # 2026-05-28, any time will do


def conversation(shape: Shape, born: float = T0, **kw: object) -> Rollout:
    """Two turns with tools, a repeated snapshot and `info: null`, as Codex writes them."""
    r = Rollout(shape, born, **kw).meta()  # type: ignore[arg-type]
    r.null_count().turn().user().respond(5_000, 0, 300, 120).tool("shell")
    r.respond(7_000, 4_800, 200, 50, cache_write=(300 if shape.cache_write else 0)).agent().done()
    r.turn().user().null_count().respond(9_000, 6_500, 400).repeat().agent().done()
    return r


def usage(records: list[object]) -> list[SessionUsage]:
    return [r for r in records if isinstance(r, SessionUsage)]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.name)
def test_a_session_counts_each_response_once(tmp_path: Path, shape: Shape) -> None:
    r = conversation(shape)
    records = feed(CodexReader(), r.write(tmp_path))
    assert totals(records) == expected(r.responses)
    assert len(usage(records)) == len(r.responses)  # info: null and the repeat add nothing
    model = "unknown" if not shape.turn_context else "gpt-5-codex"
    assert {u.model for u in usage(records)} == {model}
    info = next(x for x in records if isinstance(x, SessionInfo))
    assert (info.session_id, info.cwd, info.version) == (r.thread, r.cwd, shape.version)
    assert info.git_branch == ("main" if shape.v7 else None)
    assert info.parent_id is None


def test_cached_input_is_taken_out_of_input_and_reasoning_counted_once(tmp_path: Path) -> None:
    r = Rollout(V0_14X, T0).meta().turn().user()
    r.respond(input=10_000, cached=8_000, cache_write=1_500, output=900, reasoning=700)
    (u,) = usage(feed(CodexReader(), r.write(tmp_path)))
    # Codex: cached and cache writes are parts of input_tokens, reasoning part of output_tokens
    assert (u.input_tokens, u.cache_read_tokens, u.cache_write_tokens) == (500, 8_000, 1_500)
    assert u.output_tokens == 900
    assert u.input_tokens + u.cache_read_tokens + u.cache_write_tokens == 10_000


def test_repeated_totals_and_null_info_add_nothing(tmp_path: Path) -> None:
    r = Rollout(V0_45, T0).meta().null_count().turn().respond(1_000).repeat().repeat()
    r.null_count().respond(2_000).repeat()
    records = feed(CodexReader(), r.write(tmp_path))
    assert [u.input_tokens for u in usage(records)] == [1_000, 2_000]


def test_a_stale_snapshot_written_late_adds_nothing(tmp_path: Path) -> None:
    """tokscale saw totals that step back to an earlier snapshot, then go on (out of order
    writes): neither the old snapshot nor the next step may count anything twice."""
    r = Rollout(V0_58, T0).meta().turn().respond(1_000, 0, 10).respond(2_000, 900, 20)
    first, second = (ln for ln in r.lines if ln["payload"].get("type") == "token_count")
    r.lines.append(json.loads(json.dumps(first)))  # the very first snapshot, late
    r.respond(3_000, 1_800, 30)
    r.lines.append(json.loads(json.dumps(second)))
    r.respond(4_000, 2_900, 40)
    reader = CodexReader()
    assert totals(feed(reader, r.write(tmp_path))) == expected(r.responses)
    assert reader.counters["duplicates"] == 2


def test_the_same_file_in_sessions_and_archive_counts_once(tmp_path: Path) -> None:
    r = conversation(V0_58)
    reader = CodexReader()
    first = feed(reader, r.write(tmp_path / "sessions"))
    again = feed(reader, r.write(tmp_path / "archived_sessions"))
    assert totals(first) == expected(r.responses)
    assert usage(again) == []
    assert reader.counters["duplicates"] == len(r.responses) + 2  # and a repeat in each copy


def test_a_file_started_again_after_truncation_counts_nothing_twice(tmp_path: Path) -> None:
    r = conversation(V0_58)
    path = r.write(tmp_path)
    reader = CodexReader()
    assert totals(feed(reader, path)) == expected(r.responses)
    assert usage(feed(reader, path)) == []  # line numbers from 1 again: the file anew


# -- forks and subagents: the copied history adds nothing --------------------------------


def forked(shape: Shape, how: str, restamp: bool) -> tuple[Rollout, Rollout]:
    """A parent that forks after its second response and then goes on; a child that copies
    the parent's history and makes two responses of its own."""
    parent = Rollout(shape, T0).meta().turn().user().respond(20_000, 0, 500)
    parent.respond(30_000, 19_000, 800).agent().done()
    born = parent.now + 60
    child = Rollout(shape, born).meta(parent, how).copy_history(parent, restamp=restamp)
    child.turn().user("fork prompt").respond(35_000, 29_000, 600).respond(41_000, 34_000, 700)
    child.done()
    parent.now = born + 30
    parent.turn().user().respond(36_000, 30_000, 650).done()
    return parent, child


FORKS = [
    # (shape, how, restamped): a user fork re-stamped at the fork (Desktop, ccusage #1370),
    # a spawned subagent keeping its parent's times (codeburn PR #1383), 0.14x with ordinals
    (V0_45, "fork", True),
    (V0_58, "fork", True),
    (V0_58, "spawn", False),
    (V0_14X, "spawn", True),
    (V0_14X, "v2", False),
]


@pytest.mark.parametrize(
    ("shape", "how", "restamp"), FORKS, ids=lambda v: str(getattr(v, "name", v))
)
@pytest.mark.parametrize("order", ["parent-first", "child-first", "child-alone"])
def test_a_fork_adds_only_its_own_responses(
    tmp_path: Path, shape: Shape, how: str, restamp: bool, order: str
) -> None:
    parent, child = forked(shape, how, restamp)
    paths = {"parent": parent.write(tmp_path), "child": child.write(tmp_path)}
    reader = CodexReader()
    names = {"parent-first": ["parent", "child"], "child-first": ["child", "parent"]}
    records = [x for name in names.get(order, ["child"]) for x in feed(reader, paths[name])]
    truth = expected(child.responses + (parent.responses if order != "child-alone" else []))
    assert totals(records) == truth
    info = next(x for x in records if isinstance(x, SessionInfo) and x.session_id == child.thread)
    assert info.parent_id == parent.thread
    # the copy says nothing about the child's state either: no step of the parent's shows
    # (its agent message); without ordinals or turn ids the child's own prompt, written in
    # the same breath as the copy, cannot be told from it and is not shown either
    steps = [
        x.kind for x in records if isinstance(x, SessionActivity) and x.session_id == child.thread
    ]
    marked = shape.ordinals or (shape.turn_ids and how != "fork")
    assert steps == (["user", "turn_end"] if marked else ["turn_end"])


def test_a_v2_subagent_counting_from_zero_after_a_copy(tmp_path: Path) -> None:
    """0.14x subagents whose counter starts again at zero (CodexBar #2193), with and without
    the parent's token_count lines in the copy."""
    parent = Rollout(V0_14X_V2, T0).meta().turn().user().respond(50_000, 0, 900)
    for counts in (True, False):
        child = Rollout(V0_14X_V2, parent.now + 5).meta(parent, "v2")
        child.copy_history(parent, counts=counts).turn().respond(8_000, 0, 100).respond(
            9_000, 7_000, 80
        )
        reader = CodexReader()
        records = feed(reader, parent.write(tmp_path)) + feed(reader, child.write(tmp_path))
        assert totals(records) == expected(parent.responses + child.responses)


def test_a_copy_without_the_parents_meta_is_still_a_copy(tmp_path: Path) -> None:
    """tokscale #679: some children do not copy their parent's session_meta."""
    parent = Rollout(V0_58, T0).meta().turn().respond(20_000).respond(30_000, 19_000)
    child = Rollout(V0_58, parent.now + 60).meta(parent, "fork")
    child.copy_history(parent)
    del child.lines[1]  # the parent's meta
    child.turn().respond(34_000, 29_000)
    records = feed(CodexReader(), child.write(tmp_path))
    assert totals(records) == expected(child.responses)


def test_a_fork_from_before_forked_from_id_names_its_parent_by_the_copy(tmp_path: Path) -> None:
    """Older forks said nothing in their own meta: the copy starts with the parent's."""
    parent = Rollout(V0_45, T0).meta().turn().respond(20_000).respond(30_000, 19_000)
    child = Rollout(V0_45, parent.now + 60).meta().copy_history(parent)
    child.turn().respond(34_000, 29_000).respond(36_000, 33_000)
    records = feed(CodexReader(), child.write(tmp_path))
    assert totals(records) == expected(child.responses)
    infos = [x for x in records if isinstance(x, SessionInfo)]
    assert [i.parent_id for i in infos] == [None, parent.thread]
    assert infos[-1].cwd == child.cwd and infos[-1].version == "0.45.0"


def test_a_fork_whose_first_meta_was_lost_still_skips_the_copy(tmp_path: Path) -> None:
    parent = Rollout(V0_58, T0).meta().turn().respond(20_000).respond(30_000, 19_000)
    child = Rollout(V0_58, parent.now + 60).meta(parent, "fork").copy_history(parent)
    child.turn().respond(34_000, 29_000)
    path = child.write(tmp_path)
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join([b'{"timestamp":"garbage', *lines[1:]]))
    records = feed(CodexReader(), path)
    assert totals(records) == expected(child.responses)  # the file's name says whose it is


def test_a_fork_written_out_late_still_skips_its_copy(tmp_path: Path) -> None:
    """Codex writes a rollout lazily: the file (meta and copy) can come well after the
    thread's v7 id was minted; the copy is still a copy."""
    parent = Rollout(V0_58, T0).meta().turn().respond(20_000).respond(30_000, 19_000)
    child = Rollout(V0_58, parent.now + 60)
    child.now += 45  # the thread exists; its file is written 45 s later
    child.meta(parent, "fork").copy_history(parent).turn().respond(34_000, 29_000)
    records = feed(CodexReader(), child.write(tmp_path))
    assert totals(records) == expected(child.responses)


def test_a_response_inside_the_copy_burst_is_never_counted_twice(tmp_path: Path) -> None:
    """Without ordinals or turn ids, a child's response written within a second of the line
    before it and within REPLAY_SLACK of its birth cannot be told from the copy: it is left
    out (an undercount of one response) rather than risk counting the parent again."""
    parent = Rollout(V0_58, T0).meta().turn().respond(20_000).respond(30_000, 19_000)
    child = Rollout(V0_58, parent.now + 60).meta(parent, "fork").copy_history(parent)
    child.turn().respond(34_000, 29_000, gap=0.5).respond(40_000, 33_000, gap=12)
    records = feed(CodexReader(), child.write(tmp_path))
    (u,) = usage(records)  # the second response only (figures are per response)
    assert (u.input_tokens, u.cache_read_tokens) == (40_000 - 33_000, 33_000)


def test_resumed_session_going_on_in_its_own_file(tmp_path: Path) -> None:
    """`codex resume` appends to the same file, its totals going on from the last one."""
    r = conversation(V0_58)
    r.now += 86_400
    r.turn().user().respond(12_000, 9_000, 300).done()
    records = feed(CodexReader(), r.write(tmp_path))
    assert totals(records) == expected(r.responses)


# -- rate limits ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [V0_40, V0_45, V0_58], ids=lambda s: s.name)
def test_rate_limits_in_every_shape(tmp_path: Path, shape: Shape) -> None:
    r = Rollout(shape, T0).meta().turn().respond(1_000, limits=(5.0, 30.0))
    r.respond(2_000, limits=(5.0, 30.0)).respond(3_000, limits=(9.5, 31.0))
    limits = [x for x in feed(CodexReader(), r.write(tmp_path)) if isinstance(x, RateLimit)]
    # one record per window per change, told apart by the window's length
    assert [(x.window_minutes, x.used_percent) for x in limits] == [
        (300, 5.0), (10080, 30.0), (300, 9.5), (10080, 31.0),
    ]  # fmt: skip
    if shape is V0_40:
        assert {x.resets_at for x in limits} == {None}
    else:  # a relative reset is turned into a time from the line's own
        assert limits[0].resets_at == pytest.approx(T0 + 3600, abs=5)  # whole seconds


# -- versions, bad input, hostile and private text -----------------------------------------


def test_a_legacy_rollout_is_read_for_its_meta_and_skipped(tmp_path: Path) -> None:
    r = Rollout(LEGACY, T0).meta()
    r.lines += [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
        {"record_type": "state"},
    ]
    reader = CodexReader()
    records = feed(reader, r.write(tmp_path))
    assert records == [SessionInfo("codex", r.thread, ts=pytest.approx(T0))]
    assert reader.counters["skipped"] == 2


def test_unknown_types_and_pretty_printed_lines(tmp_path: Path) -> None:
    r = conversation(V0_14X)
    r.add("world_state", {"anything": 1})
    r.add("event_msg", {"type": "something_new_in_0_200", "x": 1})
    r.add("response_item", {"type": "brand_new_item"})
    path = r.write(tmp_path, pretty=True)  # not Codex's own spacing: parsed the slow way
    reader = CodexReader()
    assert totals(feed(reader, path)) == expected(r.responses)
    assert reader.counters["skipped"] >= 3


def test_bad_lines_cost_only_themselves(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    r = conversation(V0_58)
    good = r.data().split(b"\n")
    bad = [
        b"\x00\xff\xfe binary \x80\x81",
        b'{"timestamp":"2026-05-28T00:00:00.000Z","type":"event_msg","payload":{"type":"tok',
        b"[1, 2, 3]",
        b'{"type":"event_msg","payload":"\xc3\x28"}',
        b"[" * 100_000,
        b'{"timestamp":"' + b"9" * 50 + b'","type":"event_msg","payload":{"type":"token_count",'
        b'"info":{"total_token_usage":{"input_tokens":"many","output_tokens":-5}}}}',
    ]
    mixed = [good[0], *bad[:3], *good[1:6], *bad[3:], *good[6:]]
    path = r.write(tmp_path)
    path.write_bytes(b"\n".join(mixed))
    reader = CodexReader()
    with caplog.at_level(logging.WARNING):
        records = feed(reader, path)
    assert totals(records) == expected(r.responses)
    assert reader.counters["bad_json"] == 4 and reader.counters["not_object"] == 1
    assert reader.counters["errors"] == 0
    logged = [m for m in caplog.messages if "codex rollout" in m]
    assert len(logged) == 3 and "line 2" in logged[0] and "only counted" in logged[2]


def test_a_huge_line_is_not_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tui_monitor.sessions.codex.PARSE_MAX", 1000)
    r = Rollout(V0_58, T0).meta().turn().respond(1_000)
    r.add("session_meta", {"id": "x", "instructions": "y" * 5000})
    r.respond(2_000)
    reader = CodexReader()
    assert totals(feed(reader, r.write(tmp_path))) == expected(r.responses)
    assert reader.counters["too_long"] == 1


def test_a_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    r = conversation(V0_58)
    data = r.data()
    cut = len(data) - 40
    path = r.write(tmp_path)
    path.write_bytes(data[:cut])
    reader = CodexReader()
    first = feed(reader, path)
    done = len(path.read_bytes().split(b"\n")) - 1
    path.write_bytes(data)  # the writer finished the line
    rest = [x for n, line in enumerate(data.split(b"\n")[:-1], 1) if n > done
            for x in reader.feed(str(path), n, line)]  # fmt: skip
    assert totals(first + rest) == expected(r.responses)


HOSTILE = [
    "/tmp/\x1b[31mred\x1b[0m/\u202eevil\u202c/[bold]x[/bold]",
    "/home/u/$(rm -rf ~)\n\r\t;`id`",
    "/d/" + "\u0301" * 50 + "\ufeff",
]


@pytest.mark.parametrize("cwd", HOSTILE)
def test_hostile_cwd_and_model_are_kept_exactly(tmp_path: Path, cwd: str) -> None:
    model = "gpt-5\x07[link=file:///etc/passwd]x[/link]\u200f"
    r = Rollout(V0_58, T0, cwd=cwd).meta().turn(model).respond(1_000)
    records = feed(CodexReader(), r.write(tmp_path))
    info = next(x for x in records if isinstance(x, SessionInfo))
    assert info.cwd == cwd
    assert usage(records)[0].model == model


def test_strings_sqlite_cannot_store_are_dropped(tmp_path: Path) -> None:
    r = Rollout(V0_58, T0).meta().turn().respond(1_000)
    raw = r.data().replace(b'"cwd":"/home/dev/project"', b'"cwd":"/x\\ud800y"')
    raw = raw.replace(b'"model":"gpt-5-codex"', b'"model":"m\\udfff"')
    path = r.write(tmp_path)
    path.write_bytes(raw)
    records = feed(CodexReader(), path)
    assert next(x for x in records if isinstance(x, SessionInfo)).cwd is None
    assert usage(records)[0].model == "unknown"


def test_no_prompt_answer_code_or_tool_output_is_kept(tmp_path: Path) -> None:
    secret = "SECRET-7f3a"
    r = Rollout(V0_58, T0).meta().turn().user(f"my {secret} prompt")
    r.tool("shell", arguments=f'{{"command":["cat","{secret}"]}}', output=f"{secret} output")
    r.respond(1_000).agent(f"answer {secret}").done()
    r.add("response_item", {"type": "message", "role": "assistant",
                            "content": [{"type": "output_text", "text": secret}]})  # fmt: skip
    r.add("response_item", {"type": "reasoning", "summary": [{"text": secret}]})
    r.add("event_msg", {"type": "error", "message": "stream disconnected",
                        "codex_error_info": {"response_stream_disconnected": {}}})  # fmt: skip
    records = feed(CodexReader(), r.write(tmp_path))
    assert secret not in repr(records)
    steps = [(x.kind, x.tool) for x in records if isinstance(x, SessionActivity)]
    assert steps == [("user", None), ("tool", "shell"), ("assistant", None), ("turn_end", None)]
    (error,) = [x for x in records if isinstance(x, SessionError)]
    assert (error.error_type, error.message) == (
        "response_stream_disconnected",
        "stream disconnected",
    )


def test_state_kept_beside_the_offset_resumes_a_file(tmp_path: Path) -> None:
    _parent, child = forked(V0_58, "fork", True)
    path = child.write(tmp_path)
    lines = path.read_bytes().split(b"\n")[:-1]
    half = len(lines) - 4  # inside the child's own turn
    first = CodexReader()
    records = [x for n, ln in enumerate(lines[:half], 1) for x in first.feed(str(path), n, ln)]
    saved = json.loads(json.dumps(first.export_state(str(path))))
    second = CodexReader()
    second.import_state(str(path), saved)
    records += [
        x for n, ln in enumerate(lines, 1) if n > half for x in second.feed(str(path), n, ln)
    ]
    assert totals(records) == expected(child.responses)
    second.import_state(str(path), {"mark": ["x"], "own": 5, "inherited": "yes"})  # ignored


def test_where_codex_keeps_its_files(tmp_path: Path) -> None:
    assert codex_home({}, tmp_path) == tmp_path / ".codex"
    assert rollout_dirs({"CODEX_HOME": str(tmp_path / "h")}) == [
        tmp_path / "h" / "sessions", tmp_path / "h" / "archived_sessions",
    ]  # fmt: skip
    assert is_rollout("rollout-2025-09-10T12-00-00-0199a0aa-bbbb-7ccc-8ddd-eeeeeeeeeeee.jsonl")
    assert is_rollout("rollout-2025-09-10T12-00-00-0199a0aa-bbbb-7ccc-8ddd-eeeeeeeeeeee_2.jsonl")
    assert not is_rollout("rollout-2025-09-10T12-00-00-0199a0aa.json")
    assert not is_rollout("notes.jsonl")


# -- exactness over a corpus ----------------------------------------------------------------


def corpus(seed: int) -> list[Rollout]:
    """Sessions of every version, with forks and subagents of several kinds, resumes and
    repeated snapshots; every file's own responses recorded as they were made."""
    rng = random.Random(seed)
    files: list[Rollout] = []
    born = T0
    for shape in SHAPES * 3:
        born += rng.randint(600, 7200)
        root = Rollout(shape, born, cwd=f"/srv/p{len(files)}").meta().null_count()
        for _ in range(rng.randint(1, 4)):
            root.turn(rng.choice(["gpt-5-codex", "gpt-5", "o4-mini"])).user()
            for _ in range(rng.randint(1, 5)):
                spend(root, rng)
                if rng.random() < 0.3:
                    root.repeat()
            root.agent().done()
        files.append(root)
        for _ in range(rng.randint(0, 2)):
            how = rng.choice(["fork", "spawn"] + (["v2"] if shape.ordinals else []))
            child = Rollout(shape, root.now + rng.randint(20, 90)).meta(root, how)
            child.copy_history(root, restamp=rng.random() < 0.5)
            child.turn().user()
            child.now += 2
            for _ in range(rng.randint(1, 3)):
                spend(child, rng)
            files.append(child.done())
    return files


def spend(r: Rollout, rng: random.Random) -> None:
    prompt = rng.randint(2_000, 90_000)
    cached = rng.randint(0, prompt)
    write = rng.randint(0, prompt - cached) if r.shape.cache_write else 0
    output = rng.randint(10, 4_000)
    r.respond(prompt, cached, output, rng.randint(0, output), write, gap=rng.uniform(1.5, 40))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_exactness_per_session_in_any_file_order(tmp_path: Path, seed: int) -> None:
    files = corpus(seed)
    paths = [f.write(tmp_path / "sessions") for f in files]
    truth: dict[str, dict[str, int]] = {}
    for f in files:  # computed apart from the reader: the responses each thread made
        for session, t in expected(f.responses).items():
            truth[session] = t
    for order in (
        sorted(paths),
        list(reversed(paths)),
        random.Random(seed).sample(paths, len(paths)),
    ):
        reader = CodexReader()
        records = [x for p in order for x in feed(reader, p)]
        assert totals(records) == truth
        assert reader.counters["errors"] == 0
    naive = sum(  # what summing every token_count line's last usage would have said
        json.loads(line)["payload"]["info"]["last_token_usage"]["input_tokens"]
        for p in paths for line in p.read_bytes().splitlines()
        if b'"token_count"' in line and b'"info":{' in line
    )  # fmt: skip
    assert naive > sum(t["input"] + t["read"] + t["write"] for t in truth.values())


def test_times_are_the_lines_own(tmp_path: Path) -> None:
    r = Rollout(V0_31, T0).meta().turn().respond(1_000, gap=5)
    (u,) = usage(feed(CodexReader(), r.write(tmp_path)))
    assert iso(u.ts) == r.lines[-1]["timestamp"]


def test_no_turn_context_means_unknown_model(tmp_path: Path) -> None:
    r = Rollout(V0_31_NO_CONTEXT, T0).meta().respond(1_000)
    assert usage(feed(CodexReader(), r.write(tmp_path)))[0].model == "unknown"
