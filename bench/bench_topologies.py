"""Benchmark: every topology offline, against a bare LangGraph graph of the same shape doing the same work.

For each registered graph id (first sample input that completes without a human):

1. **Record.** Run the real graph once with its nodes wrapped (graphs compiled inside the
   builder, i.e. subgraphs and team graphs, too): each node execution records, in order, the
   model calls it made (exact messages and bound tools or schema, captured in the chat
   model), the tools it executed (exact input, captured in the tool), the nested graphs it
   invoked, and where it routed (``Command.goto``, ``Send`` fan-outs, conditional edges).
2. **Bare mirror.** Build plain LangGraph graphs with the same nodes and edges (nested graphs
   mirrored too) over a minimal state (``messages``). Each bare node replays its recorded
   execution: the same offline model calls with the same inputs (tools pre-bound, as plain
   LangGraph code binds them once), the same raw tool calls against its own fresh seeded
   world, the same nested graph runs, the same route. No gateway, router, budgets, prompts,
   history views, permission checks, audit or run registry.
3. **Time.** Ours (``Runner.start``, as the CLI runs it) and bare, each with LangGraph's
   ``InMemorySaver`` and with opsgraph's SQLite checkpointer, fresh data home per run,
   set-up excluded, median of ``-n`` runs after one warm-up. Framework overhead per step is
   wall time minus time inside model and tool calls, divided by node executions.

The knowledge layer is off (retrieval has its own benchmark). Usage:
``python bench/bench_topologies.py [-n 5] [--graphs a,b] [--json out.json]``
"""

from __future__ import annotations

import argparse
import contextvars
import json
import operator
import platform
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Callable, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_core.messages import AnyMessage, ToolMessage  # noqa: E402
from langchain_core.runnables import RunnableConfig  # noqa: E402
from langchain_core.tools import BaseTool  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.graph import StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402
from langgraph.graph.state import CompiledStateGraph  # noqa: E402
from langgraph.types import Command, Send  # noqa: E402

from opsgraph.context import build_context  # noqa: E402
from opsgraph.governance.policy import load_policy  # noqa: E402
from opsgraph.models.offline.chat_model import OfflineChatModel  # noqa: E402
from opsgraph.persistence import open_checkpointer  # noqa: E402
from opsgraph.registry import get_entry, graph_entries  # noqa: E402
from opsgraph.runner import Runner  # noqa: E402
from opsgraph.settings import load_settings  # noqa: E402
from opsgraph.tools.catalog import build_tools  # noqa: E402

_CURRENT: contextvars.ContextVar[list | None] = contextvars.ContextVar("bench_model_calls", default=None)


class RecordingModel(OfflineChatModel):
    """The offline engine, also noting each call's exact input for the node that made it."""

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        events = _CURRENT.get()
        if events is not None:
            events.append(("model", list(messages), dict(kwargs)))
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


@dataclass
class Execution:
    """What one node execution did, in order: ``("model", messages, kwargs)``, ``("tool", name, input)``
    and ``("graph", k)`` (it invoked the k-th graph its builder compiled), then where it routed."""

    events: list[tuple]
    goto: Any


@dataclass
class Recording:
    """Node executions by node path, in order, with the branch (namespace) each ran in."""

    runs: dict[tuple, list[tuple[str, Execution]]] = field(default_factory=lambda: defaultdict(list))
    branches: dict[tuple, list[Any]] = field(default_factory=lambda: defaultdict(list))

    @property
    def steps(self) -> int:
        """Node executions in the recorded run (nested graphs included)."""
        return sum(len(v) for v in self.runs.values())

    def count(self, kind: str) -> int:
        """Model calls (``model``) or tool calls (``tool``) in the recorded run."""
        return sum(1 for v in self.runs.values() for _, e in v for event in e.events if event[0] == kind)


def _branch_key(config: RunnableConfig) -> str:
    ns = (config.get("metadata") or {}).get("langgraph_checkpoint_ns", "")
    return "|".join(ns.split("|")[:-1])


def _recording_node(path: tuple, runnable: Any, recording: Recording) -> Callable:
    def node(state: Any, config: RunnableConfig) -> Any:
        token = _CURRENT.set([])
        try:
            out = runnable.invoke(state, config)
        finally:
            events = _CURRENT.get()
            _CURRENT.reset(token)
        goto = (out.goto, out.graph) if isinstance(out, Command) else None
        recording.runs[path].append((_branch_key(config), Execution(events, goto)))
        return out

    return node


def _recording_path(key: tuple, path: Any, recording: Recording) -> Callable:
    def route(state: Any, config: RunnableConfig) -> Any:
        value = path.invoke(state, config)
        recording.branches[key].append(value)
        return value

    return route


def mirror(graph: StateGraph, make_node: Callable, make_route: Callable, state: type | None = None,
           path: tuple = ()) -> StateGraph:
    """A graph with the nodes, edges and branches of ``graph``; node and route bodies from the factories."""
    out = StateGraph(state or graph.state_schema, context_schema=None if state else graph.context_schema,
                     input_schema=None if state else graph.input_schema,
                     output_schema=BareOutput if state and path else (None if state else graph.output_schema))
    out._bench_mirror = True
    for name, spec in graph.nodes.items():
        if hasattr(spec.runnable, "_bench_index"):  # compiled by the builder: mirrored when it was compiled
            out.add_node(name, spec.runnable)
        elif isinstance(spec.runnable, CompiledStateGraph):
            out.add_node(name, mirror(spec.runnable.builder, make_node, make_route, state, (*path, name)).compile())
        else:
            out.add_node(name, make_node((*path, name), spec.runnable), destinations=spec.ends or None,
                         **({} if state else {"input_schema": spec.input_schema}))
    for start, end in graph.edges:
        out.add_edge(start, end)
    for starts, end in graph.waiting_edges:
        out.add_edge(list(starts), end)
    for source, branches in graph.branches.items():
        for bname, branch in branches.items():
            out.add_conditional_edges(source, make_route((*path, source, bname), branch.path), branch.ends)
    return out


class Capture:
    """While active, every graph a builder compiles is mirrored at compile time and numbered.

    Subgraphs are often compiled inside the builder, used as nodes or invoked from a node
    (a team supervisor): numbering them lets the bare mirror run the same nested graphs.
    In recording mode it also notes tool calls and nested graph invocations in the node
    that made them.
    """

    def __init__(self, make_node: Callable, make_route: Callable, state: type | None, recording: bool) -> None:
        self.make_node, self.make_route, self.state, self.recording = make_node, make_route, state, recording
        self.graphs: list[Any] = []

    def __enter__(self) -> "Capture":
        self._compile, self._invoke = StateGraph.compile, BaseTool.invoke
        capture = self

        def compile(graph: StateGraph, *args: Any, **kwargs: Any) -> Any:
            if getattr(graph, "_bench_mirror", False):
                return capture._compile(graph, *args, **kwargs)
            return capture._mirrored(graph, *args, **kwargs)

        def invoke(tool: BaseTool, tool_input: Any, config: Any = None, **kwargs: Any) -> Any:
            events = _CURRENT.get()
            if events is not None:
                events.append(("tool", tool.name, tool_input))
            return capture._invoke(tool, tool_input, config, **kwargs)

        StateGraph.compile = compile
        if self.recording:
            BaseTool.invoke = invoke
        return self

    def __exit__(self, *exc: Any) -> None:
        StateGraph.compile, BaseTool.invoke = self._compile, self._invoke

    def mirrored_top(self, graph: StateGraph, checkpointer: Any = None) -> Any:
        """The top-level graph mirrored and compiled (its nodes keep their own names as paths)."""
        return self._compile(mirror(graph, self.make_node, self.make_route, self.state), checkpointer=checkpointer)

    def _mirrored(self, graph: StateGraph, *args: Any, **kwargs: Any) -> Any:
        index = len(self.graphs)
        compiled = self._compile(mirror(graph, self.make_node, self.make_route, self.state, (f"g{index}",)),
                                 *args, **kwargs)
        compiled._bench_index = index
        self.graphs.append(compiled)
        if self.recording:
            original = compiled.invoke

            def invoke(*a: Any, **k: Any) -> Any:
                events = _CURRENT.get()
                if events is not None:
                    events.append(("graph", index))
                return original(*a, **k)

            compiled.invoke = invoke
        return compiled


class BareState(TypedDict, total=False):
    """The bare graphs' whole state: the conversation, and which recorded branch a Send replays."""

    messages: Annotated[list[AnyMessage], add_messages]
    branch: int
    log: Annotated[list[str], operator.add]


class BareOutput(TypedDict, total=False):
    """What a nested bare graph hands back (the branch index stays inside)."""

    messages: Annotated[list[AnyMessage], add_messages]


class Replay:
    """Hands each bare node its recorded execution and does that execution's model and tool work."""

    def __init__(self, recording: Recording, tools: dict[str, Any], model: OfflineChatModel) -> None:
        self.recording, self.tools, self.model = recording, tools, model
        self.graphs: list[Any] = []
        self.used: set[tuple[tuple, int]] = set()
        self.routes = {key: list(values) for key, values in recording.branches.items()}
        self.model_ms = self.tool_ms = 0.0
        self._lock = threading.Lock()

    def next(self, path: tuple, branch: int | None) -> Execution:
        """The next unreplayed execution of ``path`` (in recorded branch ``branch`` when given)."""
        runs = self.recording.runs[path]
        keys = list(dict.fromkeys(key for key, _ in runs))
        with self._lock:
            for index, (key, execution) in enumerate(runs):
                if (path, index) in self.used or (branch is not None and key != keys[branch]):
                    continue
                self.used.add((path, index))
                return execution
        raise RuntimeError(f"no recorded execution left for {'/'.join(path)}")

    def call_model(self, messages: list, kwargs: dict) -> Any:
        """The recorded model call, on the plain offline engine with the recorded tools bound."""
        started = time.perf_counter()
        out = self.model.bind(**kwargs).invoke(messages)
        self.model_ms += (time.perf_counter() - started) * 1000
        return out

    def call_tool(self, name: str, tool_input: Any) -> ToolMessage:
        """The recorded tool call on this run's own world, straight to the tool (no checks, no audit)."""
        tool = self.tools.get(name)
        started = time.perf_counter()
        try:
            result = tool.invoke(tool_input) if tool is not None else "not available"
        except Exception as exc:  # noqa: BLE001 - a failing tool is part of the replayed work
            result = f"{type(exc).__name__}: {exc}"
        self.tool_ms += (time.perf_counter() - started) * 1000
        return ToolMessage(content=json.dumps(result, default=str), tool_call_id=uuid.uuid4().hex, name=name)

    def play(self, event: tuple) -> list:
        """Do one recorded event; returns the messages it produced."""
        if event[0] == "model":
            return [self.call_model(event[1], event[2])]
        if event[0] == "tool":
            return [self.call_tool(event[1], event[2])]
        self.graphs[event[1]].invoke({"messages": []})
        return []

    def node(self, path: tuple, _original: Any) -> Callable:
        """A bare node body for ``path``."""

        def node(state: BareState) -> Any:
            execution = self.next(path, state.get("branch"))
            messages = [m for event in execution.events for m in self.play(event)]
            update = {"messages": messages, "log": [path[-1]]}
            if execution.goto is None:
                return update
            goto, graph = execution.goto
            return Command(goto=_bare_goto(goto), update=update, graph=graph)

        return node

    def route(self, key: tuple, _original: Any) -> Callable:
        """A bare conditional-edge function replaying the recorded decisions."""
        return lambda state: self.routes[key].pop(0)


def _bare_goto(goto: Any) -> Any:
    if isinstance(goto, (str, Send)):
        goto = [goto]
    seen: dict[str, int] = defaultdict(int)
    out = []
    for target in goto:
        if isinstance(target, Send):
            out.append(Send(target.node, {"branch": seen[target.node]}))
            seen[target.node] += 1
        else:
            out.append(target)
    return out[0] if len(out) == 1 and not isinstance(out[0], Send) else out


def _settings(tmp: Path) -> Any:
    home = tmp / uuid.uuid4().hex[:8]
    return load_settings(env={"OPSGRAPH_HOME": str(home)}, cwd=tmp)


def record(graph_id: str, tmp: Path) -> tuple[dict, Recording] | None:
    """Record a run of the first sample input that completes without waiting for a person."""
    entry = get_entry(graph_id)
    for options in entry.samples:
        recording = Recording()
        context = build_context(_settings(tmp), with_knowledge=False,
                                model_factory=lambda tier, spec: RecordingModel(model_name=spec))
        try:
            graph_input = entry.make_input(options, context.world)
            with Capture(lambda p, r: _recording_node(p, r, recording),
                         lambda k, p: _recording_path(k, p, recording), None, recording=True) as capture:
                graph = capture.mirrored_top(entry.builder(), checkpointer=InMemorySaver())
                config = {"configurable": {"thread_id": "record"}, "recursion_limit": 200}
                context.audit.register_run("record", graph_id, "bench")
                graph.invoke(graph_input, config, context=context)
                snapshot = graph.get_state(config)
        finally:
            _close(context)
        if not snapshot.next and not snapshot.interrupts:
            return graph_input, recording
    return None


def _close(context: Any) -> None:
    context.audit.close()
    context.world.close()


class _Memory:
    """InMemorySaver behind the same context-manager interface as open_checkpointer."""

    def __enter__(self) -> InMemorySaver:
        return InMemorySaver()

    def __exit__(self, *exc: Any) -> None:
        return None


def _saver(kind: str, settings: Any) -> Any:
    return _Memory() if kind == "memory" else open_checkpointer(settings.effective_checkpoint_url)


def run_ours(graph_id: str, graph_input: dict, kind: str, tmp: Path) -> dict[str, float]:
    """One run of the real graph through Runner.start (audit, governance, run registry)."""
    settings = _settings(tmp)
    context = build_context(settings, with_knowledge=False)
    try:
        with _saver(kind, settings) as saver:
            runner = Runner(saver, context)
            runner.graph(graph_id)
            started, cpu = time.perf_counter(), time.process_time()
            result = runner.start(graph_id, graph_input)
            wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    finally:
        _close(context)
    assert result.status == "completed", (graph_id, result.status)
    model_ms = sum(c["latency_ms"] for c in result.values.get("calls", []))
    tool_ms = sum(a.get("latency_ms", 0.0) for a in result.values.get("actions", []))
    return {"wall_ms": wall, "cpu_ms": cpu, "model_ms": model_ms, "tool_ms": tool_ms}


def run_bare(graph_id: str, recording: Recording, kind: str, tmp: Path) -> dict[str, float]:
    """One run of the bare mirror: same shape, same model and tool work, nothing else."""
    from opsgraph.tools.world import World

    settings = _settings(tmp)
    world = World.open(settings.world_path, seed=settings.world_seed)
    replay = Replay(recording, build_tools(world, load_policy(settings.policy_path)),
                    OfflineChatModel(model_name="offline:small"))
    try:
        with _saver(kind, settings) as saver:
            with Capture(replay.node, replay.route, BareState, recording=False) as capture:
                graph = capture.mirrored_top(get_entry(graph_id).builder(), checkpointer=saver)
            replay.graphs = capture.graphs
            config = {"configurable": {"thread_id": "bare"}, "recursion_limit": 200}
            started, cpu = time.perf_counter(), time.process_time()
            for _ in graph.stream({"messages": []}, config, stream_mode="updates"):
                pass
            graph.get_state(config)
            wall, cpu = (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000
    finally:
        world.close()
    return {"wall_ms": wall, "cpu_ms": cpu, "model_ms": replay.model_ms, "tool_ms": replay.tool_ms}


CONFIGS = (("ours", "memory"), ("bare", "memory"), ("ours", "sqlite"), ("bare", "sqlite"))


def _median(runs: list[dict[str, float]], steps: int) -> dict[str, float]:
    out = {key: round(statistics.median(r[key] for r in runs), 2) for key in runs[0]}
    out["overhead_per_step_ms"] = round(statistics.median(
        (r["wall_ms"] - r["model_ms"] - r["tool_ms"]) / steps for r in runs), 3)
    return out


def bench_graph(graph_id: str, n: int, tmp: Path) -> dict[str, Any] | None:
    """Median figures of ours and bare, per checkpointer, for one graph id."""
    recorded = record(graph_id, tmp)
    if recorded is None:
        return None
    graph_input, recording = recorded
    runs: dict[tuple, list] = defaultdict(list)
    for repetition in range(n + 1):
        for who, kind in CONFIGS:  # interleaved, so drift on a shared machine hits all four alike
            figures = (run_ours(graph_id, graph_input, kind, tmp) if who == "ours"
                       else run_bare(graph_id, recording, kind, tmp))
            if repetition:  # the first round warms imports and caches
                runs[(who, kind)].append(figures)
    steps = recording.steps
    result = {"graph_id": graph_id, "topology": get_entry(graph_id).topology, "input": graph_input, "steps": steps,
              "model_calls": recording.count("model"), "tool_calls": recording.count("tool")}
    for who, kind in CONFIGS:
        result[f"{who}_{kind}"] = _median(runs[(who, kind)], steps)
    for kind in ("memory", "sqlite"):
        pairs = list(zip(runs[("ours", kind)], runs[("bare", kind)]))
        # Paired by repetition: the two runs were adjacent in time, so machine drift mostly cancels.
        for figure in ("wall_ms", "cpu_ms"):
            result[f"ratio_{kind}_{figure[:-3]}"] = round(statistics.median(o[figure] / b[figure] for o, b in pairs), 3)
        result[f"added_per_step_ms_{kind}"] = round(statistics.median(
            (o["wall_ms"] - b["wall_ms"]) / steps for o, b in pairs), 3)
    return result


def markdown(results: list[dict[str, Any]]) -> str:
    """The results as a markdown table (milliseconds, medians)."""
    lines = ["| graph id | topology | steps | model / tool calls | bare, memory | ours, memory | ratio wall (cpu) "
             "| bare, SQLite | ours, SQLite | ratio wall (cpu) | overhead/step bare → ours (SQLite) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(
            f"| `{r['graph_id']}` | {r['topology']} | {r['steps']} | {r['model_calls']} / {r['tool_calls']} "
            f"| {r['bare_memory']['wall_ms']:.1f} | {r['ours_memory']['wall_ms']:.1f} "
            f"| {r['ratio_memory_wall']:.2f} ({r['ratio_memory_cpu']:.2f}) "
            f"| {r['bare_sqlite']['wall_ms']:.1f} | {r['ours_sqlite']['wall_ms']:.1f} "
            f"| {r['ratio_sqlite_wall']:.2f} ({r['ratio_sqlite_cpu']:.2f}) "
            f"| {r['bare_sqlite']['overhead_per_step_ms']:.2f} → {r['ours_sqlite']['overhead_per_step_ms']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    """Run the benchmark for every registered graph (or ``--graphs``) and print JSON and a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=5, help="timed repetitions per configuration (median reported)")
    parser.add_argument("--graphs", default="", help="comma-separated graph ids (default: every registered graph)")
    parser.add_argument("--json", dest="json_path", default="", help="also write the results to this file")
    args = parser.parse_args()
    ids = [g for g in args.graphs.split(",") if g] or list(graph_entries())
    results, skipped = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for graph_id in ids:
            result = bench_graph(graph_id, args.n, Path(tmp))
            (results.append(result) if result else skipped.append(graph_id))
            print(f"{graph_id}: done", file=sys.stderr)
    out = {"date": date.today().isoformat(), "python": platform.python_version(), "runs": args.n,
           "results": results, "skipped_no_sample_completes_unattended": skipped}
    if args.json_path:
        Path(args.json_path).write_text(json.dumps(out, indent=2, default=str))
    print(json.dumps(out, indent=2, default=str))
    print(markdown(results))


if __name__ == "__main__":
    main()
