"""The partnership: one owner of its policy model, its checks and the loading of its file."""

from services.partnership.deadlines import (
    add_working_days,
    decision_deadline,
    is_decision_overdue,
    is_working_day,
)
from services.partnership.decisions import (
    BankHolidays,
    DecisionCode,
    WithinWorkingDays,
    WorkingCalendar,
)
from services.partnership.destinations import (
    DeliveryPolicy,
    KafkaDestination,
    WebhookDestination,
    feed_topic,
)
from services.partnership.fields import AgencyKind
from services.partnership.loader import (
    PartnershipError,
    Problem,
    default_partnership_path,
    load_partnership,
)
from services.partnership.model import (
    Agency,
    Conditions,
    CumulativeConcern,
    Partnership,
    RouteTarget,
    Rule,
)

__all__ = [
    "Agency",
    "AgencyKind",
    "BankHolidays",
    "Conditions",
    "CumulativeConcern",
    "DecisionCode",
    "DeliveryPolicy",
    "KafkaDestination",
    "Partnership",
    "PartnershipError",
    "Problem",
    "RouteTarget",
    "Rule",
    "WebhookDestination",
    "WithinWorkingDays",
    "WorkingCalendar",
    "add_working_days",
    "decision_deadline",
    "default_partnership_path",
    "feed_topic",
    "is_decision_overdue",
    "is_working_day",
    "load_partnership",
]
