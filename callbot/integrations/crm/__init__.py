"""CRM providers behind one protocol (``base.CRMProvider``), and the durable outbox in front of them."""

from callbot.integrations.crm.base import CRMProvider, LeadFields, LeadNotFoundError, LeadStatusChange
from callbot.integrations.crm.local import LocalCRMProvider
from callbot.integrations.crm.outbox import CRMOutbox, is_provisional_id

__all__ = [
    "CRMOutbox",
    "CRMProvider",
    "LeadFields",
    "LeadNotFoundError",
    "LeadStatusChange",
    "LocalCRMProvider",
    "is_provisional_id",
]
