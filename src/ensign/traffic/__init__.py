"""The traffic model: router objects read as the data plane reads them. Pure.

For a request (`Request`: host, path, method, headers, query, cookies) it answers which
Services get it and with what share, whether it is mirrored, which object and rule enforce
that, and the response headers the rule adds (`Routing`):

- `route_http`: Gateway API HTTPRoutes (`httproute`);
- `route_ingress`: an NGINX Ingress and its canary Ingress (`ingress`);
- `route_virtualservice`: Istio VirtualServices (`virtualservice`);
- `route_appmesh`: App Mesh VirtualServices, VirtualRouters and VirtualNodes (`appmesh`);
- `route_trafficsplit`: SMI TrafficSplits (Linkerd, OSM) (`trafficsplit`);
- `route_httpproxy`: Contour HTTPProxies (`httpproxy`);
- `route_routetable`: Gloo Edge RouteTables and their Upstreams (`gloo`);
- `route_traefik`, `route_kuma`, `route_apisix`: TraefikServices, Kuma TrafficRoutes,
  ApisixRoutes (`weighted`); `route_skipper`: Skipper Ingresses (`skipper`);
- `route`: any of these by provider, or the apex Service for the kubernetes provider
  (`model`);
- `endpoints`, `starved`: the ready pods behind a Service, from the workloads (`endpoints`);
- `live_split`: a canary's primary/canary shares for a plain and an A/B request (`model`);
- `rules_of`, `rules_of_ingress`, `rules_of_virtualservice`, `rules_of_trafficsplit`: a
  router object's rules, for display.
"""

from ensign.traffic.appmesh import route_appmesh, rules_of_appmesh
from ensign.traffic.endpoints import Endpoints, endpoints, starved
from ensign.traffic.gloo import describe_matcher, route_routetable, rules_of_routetable
from ensign.traffic.httpproxy import describe_condition, route_httpproxy, rules_of_httpproxy
from ensign.traffic.httproute import describe_match, route_http, rules_of
from ensign.traffic.ingress import (
    DEFAULT_PREFIX,
    canary_policy,
    is_canary,
    route_ingress,
    rules_of_ingress,
)
from ensign.traffic.model import (
    Live,
    Objects,
    Split,
    live_split,
    matching_request,
    plain_request,
    route,
    to_split,
)
from ensign.traffic.request import Destination, Header, Mirror, Request, Routing, Rule
from ensign.traffic.skipper import route_skipper, rules_of_skipper
from ensign.traffic.trafficsplit import route_trafficsplit, rules_of_trafficsplit
from ensign.traffic.virtualservice import (
    describe_istio_match,
    route_delegate,
    route_virtualservice,
    rules_of_virtualservice,
    service_of,
)
from ensign.traffic.weighted import (
    route_apisix,
    route_kuma,
    route_traefik,
    rules_of_weighted,
    weighted_hosts,
)

__all__ = [
    "DEFAULT_PREFIX",
    "Destination",
    "Endpoints",
    "Header",
    "Live",
    "Mirror",
    "Objects",
    "Request",
    "Routing",
    "Rule",
    "Split",
    "canary_policy",
    "describe_condition",
    "describe_istio_match",
    "describe_match",
    "describe_matcher",
    "endpoints",
    "is_canary",
    "live_split",
    "matching_request",
    "plain_request",
    "route",
    "route_apisix",
    "route_appmesh",
    "route_delegate",
    "route_http",
    "route_httpproxy",
    "route_ingress",
    "route_kuma",
    "route_routetable",
    "route_skipper",
    "route_traefik",
    "route_trafficsplit",
    "route_virtualservice",
    "rules_of",
    "rules_of_appmesh",
    "rules_of_httpproxy",
    "rules_of_ingress",
    "rules_of_routetable",
    "rules_of_skipper",
    "rules_of_trafficsplit",
    "rules_of_virtualservice",
    "rules_of_weighted",
    "service_of",
    "starved",
    "to_split",
    "weighted_hosts",
]
