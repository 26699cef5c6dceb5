"""``opsgraph workflow validate|show FILE``: check a YAML workflow spec and look at the graph it compiles to."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from opsgraph.cli.app import _print_json, app, console, err, user_errors

workflow_app = typer.Typer(
    help="YAML workflow specs: validate one, or show the graph it compiles to (docs/workflows.md).\n\n"
    "Examples:\n\n"
    "  opsgraph workflow validate my_workflow.yaml\n\n"
    "  opsgraph workflow show my_workflow.yaml --mermaid",
    no_args_is_help=True,
)
app.add_typer(workflow_app, name="workflow")


@workflow_app.command("validate")
@user_errors
def validate_cmd(file: Path = typer.Argument(..., help="The workflow spec (.yaml) to check.")) -> None:
    """Check a workflow spec; prints one line per problem (file:line: message) and exits 1 if any.

    Examples:

      opsgraph workflow validate workflows/invoice_review.yaml
    """
    from opsgraph.workflows.loader import WorkflowSpecError, load_spec

    try:
        loaded = load_spec(file)
        _compiled(loaded.spec)
    except WorkflowSpecError as exc:
        for problem in exc.problems:
            err.print(escape(problem), highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    spec = loaded.spec
    console.print(f"{escape(str(file))}: valid — workflow {spec.id} ({spec.topology.kind}, "
                  f"{len(spec.agents)} agents)", highlight=False, soft_wrap=True)


@workflow_app.command("show")
@user_errors
def show_cmd(
    file: Path = typer.Argument(..., help="The workflow spec (.yaml) to draw."),
    mermaid: bool = typer.Option(False, "--mermaid", help="Print the compiled graph as Mermaid text."),
    as_json: bool = typer.Option(False, "--json", help="Print nodes and edges as JSON."),
) -> None:
    """Compile a workflow spec and print its graph: nodes and edges, or Mermaid text.

    Examples:

      opsgraph workflow show workflows/invoice_review.yaml

      opsgraph workflow show workflows/invoice_review.yaml --mermaid > graph.mmd
    """
    from opsgraph.cli.graphviz import Structure, print_structure
    from opsgraph.workflows.loader import load_spec

    spec = load_spec(file).spec
    drawable = _compiled(spec).get_graph()
    edges = tuple((e.source, e.target, bool(e.conditional)) for e in drawable.edges)
    fan_out = tuple((name, tuple(node.metadata["fan_out"])) for name, node in drawable.nodes.items()
                    if (node.metadata or {}).get("fan_out"))
    structure = Structure(spec.id, spec.topology.kind, tuple(drawable.nodes), edges, drawable.draw_mermaid(), fan_out)
    if mermaid:
        print(structure.mermaid)
    elif as_json:
        _print_json(structure.as_dict())
    else:
        print_structure(structure)


def _compiled(spec):  # noqa: ANN001, ANN202 - LangGraph types stay out of CLI start-up
    """``spec`` compiled without a checkpointer: LangGraph's own checks of the graph run here."""
    from opsgraph.workflows.compiler import compile_spec

    return compile_spec(spec).compile(name=spec.id)
