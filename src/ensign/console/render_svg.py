"""`ensign describe --output svg`: the object graph as a standalone SVG document. Pure.

Plain SVG text, no dependency: one column per layer (router objects, Services, workloads,
autoscalers and configs), a box per object and an arrow per edge. The live workload has a
green border, missing objects a dashed one. History, the metric checks and the next decision
follow below.
"""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr

from ensign.console.graph import POLICY_KINDS, ROUTE_KINDS, Graph, Node
from ensign.console.render_text import (
    CHECK_HEADINGS,
    ROUTER_KINDS,
    check_cells,
    check_detail,
    check_value,
    check_widths,
    details_line,
    live_role,
    live_text,
    router_rules,
    routing_lines,
    verdict_colour,
)

BOX_W, BOX_H = 300, 84
CHARS = 41  # monospace 12px characters that fit in a box
COL_GAP, ROW_GAP = 70, 24
LEFT, TOP = 20, 130
LAYERS = {
    "Ingress": 0,
    **dict.fromkeys(ROUTE_KINDS, 0),
    **dict.fromkeys(POLICY_KINDS, 0),
    "Service": 1,
    "Deployment": 2,
    "DaemonSet": 2,
    "HorizontalPodAutoscaler": 3,
    "ConfigMap": 3,
    "Secret": 3,
}
STYLE = """
  text { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12px; fill: #1f2328; }
  .title { font-size: 16px; font-weight: bold; }
  .name { font-weight: bold; }
  .dim { fill: #656d76; }
  .box { fill: #f6f8fa; stroke: #8c959f; stroke-width: 1.2; }
  .live { stroke: #1a7f37; stroke-width: 3; fill: #dafbe1; }
  .missing { stroke-dasharray: 5 4; fill: #ffffff; }
  .edge { stroke: #57606a; stroke-width: 1.4; fill: none; marker-end: url(#arrow); }
  .selects { stroke: #0969da; }
  .configures { stroke: #8250df; stroke-dasharray: 4 3; }
  .pre { white-space: pre; }
  .green { fill: #1a7f37; }
  .red { fill: #cf222e; }
  .yellow { fill: #9a6700; }
"""


def render_svg(graph: Graph) -> str:
    positions = layout(graph)
    width = LEFT * 2 + 4 * BOX_W + 3 * COL_GAP
    graph_bottom = max((y + BOX_H for _, y in positions.values()), default=TOP)
    footer = _footer_lines(graph)
    height = graph_bottom + 40 + 18 * len(footer)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<style>{STYLE}</style>",
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='8' "
        "markerHeight='8' orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' "
        "fill='#57606a'/></marker></defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        _text(LEFT, 30, f"Canary {graph.names.namespace}/{graph.names.canary}", "title"),
        _text(LEFT, 52, f"phase {graph.phase or '-'}   revision {graph.revision or '-'}"),
        _text(LEFT, 70, f"live: {live_text(graph)}", "name"),
    ]
    for i, (heading, line, enforced) in enumerate(routing_lines(graph)):
        shown = f"{heading}: {line}" + (f"  ← {enforced}" if enforced else "")
        parts.append(
            _text(LEFT, 88 + 18 * i, shown, "red" if line.startswith("no routing") else "")
        )
    parts += [_edge(positions, e.source, e.target, e.relation) for e in graph.edges]
    parts += [_box(graph, node, *positions[node.id]) for node in graph.nodes]
    y = graph_bottom + 40
    for line, css in footer:
        parts.append(_text(LEFT, y, line, css))
        y += 18
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def layout(graph: Graph) -> dict[str, tuple[int, int]]:
    """Top-left corner of each node's box: column by kind, rows in graph order."""
    rows = [0, 0, 0, 0]
    out = {}
    for node in graph.nodes:
        col = LAYERS.get(node.kind, 3)
        out[node.id] = (LEFT + col * (BOX_W + COL_GAP), TOP + rows[col] * (BOX_H + ROW_GAP))
        rows[col] += 1
    return out


def _box(graph: Graph, node: Node, x: int, y: int) -> str:
    role = live_role(graph, node)
    css = "box"
    if not node.present:
        css += " missing"
    elif role.startswith("LIVE"):
        css += " live"
    details = (
        wrap(details_line(node)) if node.present else [node.details.get("absent") or "not found"]
    )
    lines = [
        _text(x + 10, y + 20, _clip(f"{node.kind}/{node.name}"), "name"),
        _text(x + 10, y + 38, _clip(f"[{node.role}] {role}".strip()), "dim"),
    ]
    lines += [_text(x + 10, y + 56 + 18 * i, line) for i, line in enumerate(details[:2])]
    rect = f'<rect class="{css}" x="{x}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="6"/>'
    return f"<g id={quoteattr(node.id)}>{rect}{''.join(lines)}</g>"


def _edge(positions: dict[str, tuple[int, int]], source: str, target: str, relation: str) -> str:
    if source not in positions or target not in positions:
        return ""
    (sx, sy), (tx, ty) = positions[source], positions[target]
    sy, ty = sy + BOX_H // 2, ty + BOX_H // 2
    if sx <= tx:
        x1, x2 = sx + BOX_W, tx
    else:
        x1, x2 = sx, tx + BOX_W
    mid = (x1 + x2) // 2
    path = f"M {x1} {sy} C {mid} {sy}, {mid} {ty}, {x2} {ty}"
    title = f"<title>{escape(f'{source} {relation} {target}')}</title>"
    return f'<path class="edge {relation}" d="{path}">{title}</path>'


def _footer_lines(graph: Graph) -> list[tuple[str, str]]:
    lines = _rule_lines(graph)
    lines.append((f"Analysis history (revision {graph.revision or '-'})", "name"))
    if not graph.history:
        lines.append(("  no checks recorded for this revision yet", "dim"))
    for entry in graph.history:
        check = " ".join(str(entry.get(k) or "") for k in ("kind", "name")).strip()
        extra = check_detail(entry)
        lines.append(
            (
                f"  {entry.get('time', '')}  {check}  {entry.get('verdict', '')}  "
                f"{check_value(entry)}  {extra}  {entry.get('message', '')}",
                "",
            )
        )
    lines += _check_lines(graph)
    when = graph.next_at or "on the next change (no analysis scheduled)"
    lines.append((f"Next decision: {when}", "name"))
    if graph.next_message:
        lines.append((f"  {graph.next_reason}: {graph.next_message}", ""))
    return lines


def _rule_lines(graph: Graph) -> list[tuple[str, str]]:
    """Each router object's rules, as in the text render's Traffic tree."""
    lines: list[tuple[str, str]] = []
    for node in (n for n in graph.nodes if n.kind in ROUTER_KINDS):
        rules = router_rules(graph, node)
        if rules:
            lines.append((f"{node.id} rules", "name"))
            lines += [(f"  {rule}", "pre") for rule in rules]
    return lines


def _check_lines(graph: Graph) -> list[tuple[str, str]]:
    """The text render's metric checks as padded monospace lines, coloured by verdict
    (`white-space: pre` keeps the padding that SVG would otherwise collapse)."""
    if not graph.checks:
        return []
    times = [str(c.get("time")) for c in graph.checks if c.get("time")]
    title = "Metric checks" + (f" (last at {max(times)})" if times else "")
    rows = [check_cells(c) for c in graph.checks]
    widths = check_widths(rows)
    lines = [(title, "name"), (_columns(CHECK_HEADINGS, widths), "dim pre")]
    for check, cells in zip(graph.checks, rows, strict=True):
        lines.append((_columns(cells, widths), f"{verdict_colour(cells[1])} pre".strip()))
        if check.get("message"):
            lines.append((f"    {check['message']}", "dim pre"))
    return lines


def _columns(cells: tuple[str, ...], widths: list[int]) -> str:
    padded = [
        cell.rjust(width) if heading == "SAMPLES" else cell.ljust(width)
        for cell, width, heading in zip(cells, widths, CHECK_HEADINGS, strict=False)
    ]
    return "  " + "  ".join([*padded, cells[-1]])


def _text(x: int, y: int, content: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f'<text x="{x}" y="{y}"{cls}>{escape(content)}</text>'


def wrap(details: str, *, width: int = CHARS) -> list[str]:
    """Pack the details' parts (separated by two spaces) into lines of at most `width`."""
    lines: list[str] = []
    for part in details.split("  "):
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += "  " + part
        else:
            lines.append(_clip(part, width))
    return lines


def _clip(text: str, limit: int = CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
