"""The partnership: one owner of its policy model, its checks and the loading of its file."""

from services.partnership.loader import (
    PartnershipError,
    Problem,
    default_partnership_path,
    load_partnership,
)
from services.partnership.model import (
    Agency,
    AgencyKind,
    Conditions,
    CumulativeConcern,
    Partnership,
    RouteTarget,
    Rule,
)

__all__ = [
    "Agency",
    "AgencyKind",
    "Conditions",
    "CumulativeConcern",
    "Partnership",
    "PartnershipError",
    "Problem",
    "RouteTarget",
    "Rule",
    "default_partnership_path",
    "load_partnership",
]
