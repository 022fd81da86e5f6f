"""The operator's console: `ensign get|describe|promote|abort|pause|resume|status|sandbox`.

Pure modules build tables, graphs and drawings from plain dicts (`tables`, `graph`,
`render_text`, `render_svg`, `tour`); the others talk to a cluster (`kubeaccess`, `listing`,
`describing`, `requests`, `rollout_status`, `sandbox`). `commands` holds the click commands
that `ensign.cli` registers.
"""
