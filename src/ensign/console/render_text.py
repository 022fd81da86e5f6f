"""`ensign describe` drawn for a terminal: traffic path, workloads, history, metric checks and
the next decision. Pure.

`render(graph)` returns rich renderables; printing them is the caller's business.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

from ensign.console.graph import POLICY_KINDS, ROUTE_KINDS, WEIGHTED_KINDS, Graph, Node
from ensign.console.routing import request_text, rule_text, split_text
from ensign.console.tables import phase_style

# The unit of a builtin metric's value, as the controller records it in status.checks.
UNITS = {"request-success-rate": "%", "request-duration": "ms"}
VERDICT_COLOURS = {
    "passed": "green",
    "failed": "red",
    "no data": "red",
    "error": "red",
    "inconclusive": "yellow",
}
CHECK_HEADINGS = ("CHECK", "VERDICT", "VALUE", "SAMPLES", "THRESHOLD")
NAME_WIDTH = 32  # longer check names fold inside their column


def render(graph: Graph) -> Group:
    parts: list[RenderableType] = [
        header(graph),
        Text(""),
        traffic(graph),
        Text(""),
        workloads(graph),
        Text(""),
        history(graph),
        Text(""),
    ]
    if graph.checks:
        parts += [metric_checks(graph), Text("")]
    parts.append(next_decision(graph))
    return Group(*parts)


def header(graph: Graph) -> Text:
    names = graph.names
    out = Text.assemble(
        ("Canary ", "bold"),
        (f"{names.namespace}/{names.canary}", "bold cyan"),
        "  phase ",
        (graph.phase or "-", phase_style(graph.phase)),
        f"  revision {graph.revision or '-'}\n",
    )
    out.append("live: ", style="bold")
    out.append(live_text(graph), style="bold green" if graph.live != "none" else "red")
    for heading, line, enforced in routing_lines(graph):
        out.append(f"\n{heading}: ", style="bold")
        out.append(line, style="red" if line.startswith(("HTTP ", "no routing")) else "")
        if enforced:
            out.append(f"  ← {enforced}", style="cyan")
    return out


def routing_lines(graph: Graph) -> list[tuple[str, str, str]]:
    """(heading, split, enforced by) for the plain and the A/B request, from the traffic
    model; the missing router objects instead when there are some."""
    t = graph.traffic
    if t.plain is None:
        missing = "; ".join(t.notes) or "no router object"
        return [("routing", f"no routing ({t.provider}): {missing}", "")]
    heading = "routing" if t.routes_traffic else f"routing ({t.provider}, nothing is split)"
    out = [(heading, split_text(t.plain), t.plain.enforced_by)]
    if t.matched is not None and t.matched_request is not None:
        ab = f"A/B ({request_text(t.matched_request)})"
        out.append((ab, split_text(t.matched), t.matched.enforced_by))
    return out


def router_rules(graph: Graph, node: Node) -> list[str]:
    """The rules of a router object, one line each (empty for other nodes)."""
    for obj in graph.traffic.objects:
        if (obj.kind, obj.name) == (node.kind, node.name):
            return [rule_text(rule) for rule in obj.rules]
    return []


def live_text(graph: Graph) -> str:
    names = graph.names
    primary, canary = 100 - graph.weight, graph.weight
    if graph.live == "primary":
        return f"primary ({names.primary}) at weight {primary}%; canary ({names.target}) {canary}%"
    if graph.live == "canary":
        return f"canary ({names.target}) at weight 100%"
    if graph.live == "split":
        return f"split: primary ({names.primary}) {primary}%, canary ({names.target}) {canary}%"
    return f"none: Service {names.apex} does not route to either workload yet"


ROUTER_KINDS = ("Ingress", *ROUTE_KINDS)


def traffic(graph: Graph) -> Tree:
    root = Tree(Text("Traffic", style="bold"), guide_style="dim")
    routed = {e.target for e in graph.edges if e.relation == "routes"}
    for ing in (n for n in graph.nodes if n.kind in ROUTER_KINDS):
        branch = root.add(label(graph, ing))
        for line in router_rules(graph, ing):
            branch.add(Text(line, style="magenta"))
        for svc in graph.targets(ing.id, "routes"):
            _service_branch(graph, branch.add(label(graph, svc, arrow=True)), svc)
    for svc in (n for n in graph.nodes if n.kind == "Service" and n.id not in routed):
        _service_branch(graph, root.add(label(graph, svc)), svc)
    configured = {e.source for e in graph.edges if e.relation == "configures"}
    for rule in (n for n in graph.nodes if n.kind in POLICY_KINDS):
        if rule.id not in configured:  # missing, or for a host that is none of ours
            root.add(label(graph, rule))
    return root


def _service_branch(graph: Graph, branch: Tree, svc: Node) -> None:
    for edge in graph.edges:
        if edge.relation == "configures" and edge.target == svc.id:
            rule = graph.node(edge.source)
            if rule is not None:
                branch.add(label(graph, rule))
    selected = graph.targets(svc.id, "selects")
    if not selected and svc.present:
        branch.add(Text("selects no workload of this canary", style="yellow"))
    for workload in selected:
        branch.add(label(graph, workload, arrow=True))


def workloads(graph: Graph) -> Tree:
    root = Tree(Text("Workloads", style="bold"), guide_style="dim")
    kinds = ("Deployment", "DaemonSet")
    for workload in (n for n in graph.nodes if n.kind in kinds):
        branch = root.add(label(graph, workload))
        for pod in workload.details.get("pods") or []:
            branch.add(_pod_line(pod))
        for dep in (n for n in graph.nodes if n.kind not in kinds):
            linked = [e for e in graph.edges if {e.source, e.target} == {dep.id, workload.id}]
            if linked and dep.kind != "Service":
                branch.add(label(graph, dep))
    return root


def label(graph: Graph, node: Node, *, arrow: bool = False) -> Text:
    text = Text("▶ " if arrow else "", style="dim")
    text.append(node.id, style="bold" if node.present else "dim")
    text.append(f" [{node.role}]", style="cyan")
    if not node.present:
        text.append(f"  ({node.details.get('absent') or 'not found'})", style="red")
        return text
    text.append("  " + details_line(node))
    role = live_role(graph, node)
    if role:
        text.append(f"  {role}", style="bold green" if role.startswith("LIVE") else "dim")
    return text


def details_line(node: Node) -> str:
    d = node.details
    if node.kind == "Service":
        selector = ",".join(f"{k}={v}" for k, v in d["selector"].items()) or "<none>"
        ports = ", ".join(f"{p['port']}→{p['targetPort']}" for p in d["ports"]) or "-"
        return f"selector {selector}  ports {ports}  {d['type']}"
    if node.kind in ("Deployment", "DaemonSet"):
        images = ", ".join(d["images"]) or "-"
        return f"{d['ready']}/{d['desired']} ready  image {images}"
    if node.kind == "Ingress":
        hosts = ", ".join(d["hosts"]) or "*"
        return f"hosts {hosts}" + (f"  class {d['class']}" if d["class"] else "")
    if node.kind == "HTTPRoute":
        hosts = ", ".join(d["hosts"]) or "*"
        return f"hosts {hosts}  {d['rules']} rule{'s' if d['rules'] != 1 else ''}"
    if d.get("apiVersion"):  # Contour, Gloo, App Mesh
        return _mesh_details(node)
    if node.kind == "VirtualService":
        hosts = ", ".join(d["hosts"]) or "- (delegate)"
        gateways = ", ".join(d["gateways"]) or "mesh"
        routes = f"{d['rules']} route{'s' if d['rules'] != 1 else ''}"
        return f"hosts {hosts}  gateways {gateways}  {routes}"
    if node.kind == "DestinationRule":
        return f"host {d['host'] or '-'}  {d['policy']}"
    if node.kind == "TrafficSplit":
        return f"root service {', '.join(d['hosts']) or '-'}"
    if node.kind in WEIGHTED_KINDS:
        hosts = ", ".join(d["hosts"]) or "*"
        return f"hosts {hosts}  {d['rules']} rule{'s' if d['rules'] != 1 else ''}"
    if node.kind == "HorizontalPodAutoscaler":
        return f"scales {d['scales']} between {d['min']} and {d['max']}"
    return f"tracked, checksum {d['checksum'][:12]}" if d.get("checksum") else "tracked copy"


def _pod_line(pod: Any) -> Text:
    """A pod under its workload: `Pod/<name>  Running  ready` (from the workload's
    ReplicaSets for a Deployment, owned directly for a DaemonSet)."""
    text = Text(f"Pod/{pod['name']}", style="dim")
    text.append(f"  {pod['phase']}")
    text.append(
        "  ready" if pod["ready"] else "  not ready", style="green" if pod["ready"] else "red"
    )
    return text


def _mesh_details(node: Node) -> str:
    """An HTTPProxy, RouteTable, Upstream or App Mesh object, in one line."""
    d = node.details
    if node.kind in POLICY_KINDS:  # Upstream, VirtualNode
        return f"host {d['host'] or '-'}  {d['policy']}"
    routes = f"{d['rules']} route{'s' if d['rules'] != 1 else ''}"
    if node.kind == "HTTPProxy":
        return f"fqdn {', '.join(d['hosts']) or '- (included)'}  {routes}"
    if node.kind == "RouteTable":
        return f"delegated by a VirtualService  {routes}"
    if node.kind == "VirtualService":  # App Mesh
        hosts = f"name {', '.join(d['hosts']) or '-'}  {d['policy']}"
        return hosts + (f"  {routes}" if d["rules"] else "")
    return f"{d['policy']}  {routes}"  # VirtualRouter


def live_role(graph: Graph, node: Node) -> str:
    if node.kind not in ("Deployment", "DaemonSet"):
        return ""
    share = 100 - graph.weight if node.role == "primary" else graph.weight
    serving = graph.live == "split" or graph.live == node.role
    return f"LIVE {share}%" if serving else "idle"


def history(graph: Graph) -> RenderableType:
    title = Text("Analysis history", style="bold")
    title.append(f" (revision {graph.revision or '-'})", style="dim")
    if not graph.history:
        return Group(title, Text("  no checks recorded for this revision yet", style="dim"))
    out = Table(box=box.SIMPLE_HEAD, show_edge=False, header_style="bold")
    for column in ("TIME", "CHECK", "VERDICT", "VALUE/THRESHOLD", "DETAIL", "MESSAGE"):
        out.add_column(column, overflow="fold")
    for entry in graph.history:
        verdict = str(entry.get("verdict") or "")
        style = {"passed": "green", "failed": "red"}.get(verdict, "")
        out.add_row(
            Text(str(entry.get("time") or "")),
            Text(" ".join(str(entry.get(k) or "") for k in ("kind", "name")).strip()),
            Text(verdict, style=style),
            Text(check_value(entry)),
            Text(check_detail(entry)),
            Text(str(entry.get("message") or "")),
        )
    return Group(title, out)


def check_value(entry: Mapping[str, Any]) -> str:
    if "value" not in entry and "threshold" not in entry:
        return "-"
    return f"{entry.get('value', '-')}/{entry.get('threshold', '-')}"


def check_detail(entry: Mapping[str, Any]) -> str:
    parts = []
    if entry.get("url"):
        parts.append(str(entry["url"]))
    if entry.get("httpStatus"):
        parts.append(f"HTTP {entry['httpStatus']}")
    if entry.get("attempts"):
        parts.append(f"attempt {entry['attempts']}")
    return "  ".join(parts) or "-"


def metric_checks(graph: Graph) -> RenderableType:
    """Each metric's last result: one aligned line of columns, its message indented below.

    A message is a whole sentence; as a column it would fold into a narrow strip at 100
    characters, so it gets its own line. THRESHOLD comes last because it is the only
    column of unbounded length (a judge's settings): it folds without shifting the others."""
    title = Text("Metric checks", style="bold")
    times = [str(c.get("time")) for c in graph.checks if c.get("time")]
    if times:
        title.append(f" (last at {max(times)})", style="dim")
    rows = [check_cells(c) for c in graph.checks]
    widths = check_widths(rows)
    out: list[RenderableType] = [title, _check_line(CHECK_HEADINGS, widths, "bold")]
    for check, cells in zip(graph.checks, rows, strict=True):
        out.append(_check_line(cells, widths, "", verdict_colour(cells[1])))
        if check.get("message"):
            out.append(Padding(Text(str(check["message"]), style="dim"), (0, 0, 0, 4)))
    return Group(*out)


def check_cells(check: Mapping[str, Any]) -> tuple[str, str, str, str, str]:
    """The columns of one status.checks entry, in CHECK_HEADINGS order."""
    samples = check.get("samples")
    return (
        str(check.get("name") or ""),
        str(check.get("verdict") or ""),
        check_reading(check),
        "-" if samples is None else str(samples),
        str(check.get("threshold") or "-"),
    )


def check_widths(rows: list[tuple[str, str, str, str, str]]) -> list[int]:
    """Widths of every column but the last (THRESHOLD), wide enough for headings and cells."""
    widths = [
        max(len(cells[i]) for cells in [CHECK_HEADINGS, *rows])
        for i in range(len(CHECK_HEADINGS) - 1)
    ]
    widths[0] = min(widths[0], NAME_WIDTH)
    return widths


def check_reading(check: Mapping[str, Any]) -> str:
    """The canary's value, and the primary's when the judge compared them: `412ms vs 380ms`."""
    unit = UNITS.get(str(check.get("name") or ""), "")
    value, primary = check.get("value"), check.get("primaryValue")
    if value is None and primary is None:
        return "-"
    shown = "-" if value is None else _reading(value, unit)
    if primary is not None:
        shown += f" vs {_reading(primary, unit)}"
    return shown


def _reading(value: object, unit: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    number = float(value)
    if number.is_integer():
        text = str(int(number))
    elif abs(number) >= 1:
        text = f"{number:.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{number:.3g}"
    return text + unit


def verdict_colour(verdict: str) -> str:
    """Red for every verdict that counts as a failed check, yellow for one that holds."""
    return VERDICT_COLOURS.get(verdict, "")


def _check_line(
    cells: tuple[str, ...], widths: list[int], style: str, verdict_style: str = ""
) -> Padding:
    """One row as its own grid with fixed widths, so rows line up across the messages."""
    grid = Table.grid(padding=(0, 2))
    for i, width in enumerate(widths):
        right = CHECK_HEADINGS[i] == "SAMPLES"
        grid.add_column(width=width, overflow="fold", justify="right" if right else "left")
    grid.add_column(overflow="fold")
    styles = [style] * len(cells)
    if verdict_style:
        styles[1] = verdict_style
    grid.add_row(*(Text(c, style=s) for c, s in zip(cells, styles, strict=True)))
    return Padding(grid, (0, 0, 0, 2))


def next_decision(graph: Graph) -> Text:
    out = Text("Next decision: ", style="bold")
    when = f"at {graph.next_at}" if graph.next_at else "on the next change (no analysis scheduled)"
    out.append(when)
    if graph.next_reason or graph.next_message:
        out.append(f"\n  {graph.next_reason}: ", style="cyan")
        out.append(graph.next_message)
    return out
