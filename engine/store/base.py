"""The store's interface and records: customers with their identities, interactions, tickets and their history.

A ``Store`` is blocking (a database driver); trio code goes through ``engine.store.AsyncStore``, which runs each
call in a worker thread. ``SqlStore`` implements it once for ``SqliteStore`` (embedded) and ``PostgresStore``,
with the same records and errors (the tests in ``tests/engine/store``, run on both, are the contract).

Identities: a customer is found by any of its identities, ``(kind, value)`` with ``kind`` in ``IDENTITY_KINDS``.
Values are normalised before they are stored or looked up (``normalise_identity``): phone numbers become ``+``
followed by their digits (``00`` international prefix dropped; no default country is assumed), e-mail addresses
are lower-cased, chat and CRM ids are stripped of surrounding blanks. One identity belongs to one customer.

Tickets: statuses and their allowed transitions are ``TICKET_TRANSITIONS``; "open" tickets (``OPEN_STATUSES``)
are those still waiting for work. References are ``T-`` and six digits or more (``T-000123``); lookups accept the
reference in any case, or its digits alone (what a caller keys in the IVR).

Every refusal is a ``engine.errors.StoreError`` whose message names the field or reference; nothing is written.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from engine.errors import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from engine.leads import ImportResult, LeadImport
    from engine.model import Lead
    from engine.reports import IntervalRow
    from engine.store.access_records import ApiToken, AuditEntry, Cdr, User

IDENTITY_KINDS: tuple[str, ...] = ("phone", "email", "chat", "crm")

TICKET_STATUSES: tuple[str, ...] = ("open", "pending", "resolved", "closed")
OPEN_STATUSES: tuple[str, ...] = ("open", "pending")
# status -> the statuses it may move to. "closed" is final: a new problem gets a new ticket.
TICKET_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("pending", "resolved", "closed"),
    "pending": ("open", "resolved", "closed"),
    "resolved": ("open", "closed"),
    "closed": (),
}

# channel -> the identity kind its ``customer`` field holds
CHANNEL_IDENTITY: dict[str, str] = {"voice": "phone", "sms": "phone", "sim": "phone", "email": "email",
                                    "chat": "chat"}

_PHONE_CHARS = re.compile(r"^[+0-9 ()./\-]+$")
_REFERENCE = re.compile(r"^\s*(?:[Tt]-?)?(\d{1,12})\s*$")


def normalise_identity(kind: str, value: str) -> str:
    """The stored form of an identity; ``StoreError`` for an unknown kind or an empty/malformed value."""
    if kind not in IDENTITY_KINDS:
        raise StoreError(f"identity kind {kind!r}: expected one of {', '.join(IDENTITY_KINDS)}")
    if not isinstance(value, str) or not value.strip():
        raise StoreError(f"{kind} identity: empty value")
    value = value.strip()
    if kind == "phone":
        if not _PHONE_CHARS.match(value):
            raise StoreError(f"phone identity {value!r}: not a phone number (digits, +, spaces, ()-./ only)")
        digits = re.sub(r"\D", "", value)
        if not value.startswith("+") and digits.startswith("00"):  # international prefix
            digits = digits[2:]
        if len(digits) < 3:
            raise StoreError(f"phone identity {value!r}: too few digits")
        return "+" + digits
    if kind == "email":
        local, at, domain = value.partition("@")
        if not at or not local or not domain or " " in value:
            raise StoreError(f"email identity {value!r}: not an e-mail address")
        return value.lower()
    return value


def guess_identity(customer: str, channel: str | None = None) -> tuple[str, str]:
    """``(kind, normalised value)`` for a customer string as channels and hooks carry it.

    ``kind:value`` (e.g. ``chat:web-42``, ``crm:C17``) says the kind explicitly; otherwise the channel decides
    (``CHANNEL_IDENTITY``), otherwise the shape: an ``@`` is an e-mail, phone characters a phone number, anything
    else a chat id. ``StoreError`` when empty or malformed.
    """
    if not isinstance(customer, str) or not customer.strip():
        raise StoreError("customer: empty identity")
    text = customer.strip()
    prefix, colon, rest = text.partition(":")
    if colon and prefix in IDENTITY_KINDS:
        return prefix, normalise_identity(prefix, rest)
    kind = CHANNEL_IDENTITY.get(channel or "")
    if kind is None:
        kind = "email" if "@" in text else "phone" if _PHONE_CHARS.match(text) else "chat"
    return kind, normalise_identity(kind, text)


def parse_reference(reference: str) -> int:
    """The ticket number in ``T-000123`` / ``t-123`` / ``123``; ``StoreError`` naming the reference otherwise."""
    found = _REFERENCE.match(reference) if isinstance(reference, str) else None
    if found is None:
        raise StoreError(f"ticket reference {reference!r}: expected T- and digits (e.g. T-000123)")
    return int(found.group(1))


def format_reference(number: int) -> str:
    return f"T-{number:06d}"


# ------------------------------------------------------------------------------------------------- records ----

@dataclass(frozen=True, slots=True)
class Customer:
    """A customer: ``identities`` is a tuple of ``(kind, value)``, ``attributes`` free JSON-able data."""

    id: int
    name: str
    attributes: dict[str, Any] = field(default_factory=dict)
    identities: tuple[tuple[str, str], ...] = ()
    created: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["identities"] = [{"kind": k, "value": v} for k, v in self.identities]
        return out


@dataclass(frozen=True, slots=True)
class Interaction:
    """One contact on any channel, as recorded once its life is over (``contact_id`` is unique)."""

    contact_id: str
    customer_id: int | None
    channel: str
    queue: str = ""
    agent: str = ""
    arrived: float = 0.0
    answered: float | None = None
    ended: float | None = None
    outcome: str = ""
    disposition: str = ""
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class TicketEvent:
    """One entry of a ticket's history: ``changes`` maps each changed field to ``[old, new]``."""

    at: float
    who: str
    changes: dict[str, list[Any]]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A work order. ``events`` is its history, oldest first (the first one is its creation)."""

    reference: str
    customer_id: int | None
    department: str
    subject: str
    status: str
    assignee: str
    contact_id: str
    created: float
    updated: float
    events: tuple[TicketEvent, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["events"] = [e.to_dict() for e in self.events]
        return out


# --------------------------------------------------------------------------------------------- interface ----

class Store(ABC):
    """The store's contract. Implementations are blocking and safe to call from any one thread at a time (they
    serialise callers themselves); each method is one transaction: it is written entirely or not at all."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection; further calls raise ``StoreError``."""

    # ------------------------------------------------------------------- do-not-call lists, compliance audit ----
    # List names: "global", "blocked" (people who complained) and "campaign:<id>"; anything else is a
    # ``StoreError``. Numbers are stored in E.164 (normalised with ``phonenumbers``; a number that is not valid is
    # a ``StoreError`` when added, and found on no list when looked up). The compliance rules query these on every
    # check, so a number added mid-campaign is refused from the next check on.

    @abstractmethod
    def dnc_add(self, number: str, *, list_name: str = "global", reason: str = "", source: str = "") -> bool:
        """Put ``number`` on ``list_name``; ``True`` if it was not there yet (``False``: already listed, the first
        entry's reason and source are kept)."""

    @abstractmethod
    def dnc_remove(self, number: str, list_name: str = "global") -> bool:
        """Take ``number`` off ``list_name``; ``True`` if it was there."""

    @abstractmethod
    def dnc_lists_for(self, number: str) -> set[str]:
        """The names of every list ``number`` is on (empty set: none)."""

    @abstractmethod
    def dnc_import(self, text: str, *, list_name: str = "global", source: str = "",
                   region: str | None = None) -> tuple[int, list[Any]]:
        """Add the numbers of ``text`` to ``list_name`` in one transaction: one number per line (blank and ``#``
        lines skipped) or CSV with a header line holding a ``phone`` column (an optional ``reason`` column is
        kept). ``region`` (ISO country) reads numbers written without ``+``. Returns ``(added, errors)``:
        ``added`` counts numbers new to the list; ``errors`` are ``engine.leads.RowError`` (line, ``"phone"``,
        reason, raw value) for each invalid number, which never costs another line. ``StoreError`` (nothing
        written) for a CSV header without ``phone`` or an unknown list."""

    @abstractmethod
    def dnc_entries(self, list_name: str = "global", limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """The entries of ``list_name`` (``list, number, reason, source, added``), oldest first; ``limit``
        1..100000."""

    @abstractmethod
    def record_compliance(self, *, at: float, number: str, campaign: str | None, lead: str | None, allowed: bool,
                          rule: str, reason: str) -> None:
        """Append one compliance decision to the audit trail (``campaign`` / ``lead`` ``None`` when there is
        none). ``StoreError`` for an empty number or a time that is not a number."""

    @abstractmethod
    def compliance_audit(self, *, number: str | None = None, campaign: str | None = None,
                         limit: int = 100) -> list[dict[str, Any]]:
        """Audit rows (``at, number, campaign, lead, allowed, rule, reason``; ``campaign`` / ``lead`` ``None`` when
        recorded without), newest first, only those of ``number`` and/or ``campaign`` when given; at most
        ``limit`` (1..100000)."""

    # customers
    @abstractmethod
    def find_customer(self, kind: str, value: str) -> Customer | None:
        """The customer owning identity ``(kind, value)`` (normalised first), or ``None``."""

    @abstractmethod
    def customer(self, customer_id: int) -> Customer:
        """The customer ``customer_id``; ``StoreError`` if unknown."""

    @abstractmethod
    def find_or_create_customer(self, kind: str, value: str, name: str = "",
                                attributes: dict[str, Any] | None = None) -> Customer:
        """The owner of the identity, created (with ``name`` and ``attributes``) if there is none."""

    @abstractmethod
    def link_identity(self, customer_id: int, kind: str, value: str) -> Customer:
        """Give customer ``customer_id`` one more identity. Idempotent for the same customer; ``StoreError`` if
        the identity belongs to another customer or the customer is unknown."""

    @abstractmethod
    def update_customer(self, customer_id: int, *, name: str | None = None,
                        attributes: dict[str, Any] | None = None) -> Customer:
        """Change the name and/or merge ``attributes`` into the customer's (a ``None`` value removes a key)."""

    # interactions
    @abstractmethod
    def record_interaction(self, interaction: Interaction) -> Interaction:
        """Write one interaction; idempotent by ``contact_id`` (writing it again replaces the row, never adds one).
        ``StoreError`` for an empty contact id or an unknown customer."""

    @abstractmethod
    def record_customer_interaction(self, kind: str, value: str, interaction: Interaction) -> Interaction:
        """``record_interaction`` for the customer with identity ``(kind, value)``, created (nameless) when
        unknown, in one transaction; returns the interaction with its ``customer_id``. ``StoreError`` for a
        malformed identity (nothing written)."""

    @abstractmethod
    def history(self, customer_id: int, limit: int = 50) -> list[Interaction]:
        """The customer's interactions on every channel, newest first (by arrival), at most ``limit``."""

    # tickets
    @abstractmethod
    def create_ticket(self, customer_id: int | None, department: str, subject: str, *, contact_id: str = "",
                      assignee: str = "", note: str = "", who: str = "") -> Ticket:
        """A new ticket, status "open", with its creation as the first history event."""

    @abstractmethod
    def update_ticket(self, reference: str, *, status: str | None = None, assignee: str | None = None,
                      department: str | None = None, note: str = "", who: str = "") -> Ticket:
        """Change status (only along ``TICKET_TRANSITIONS``), assignee or department and/or add a note; one history
        event records what changed. ``StoreError`` for an unknown ticket or status, a refused transition, or a
        call that changes nothing and has no note."""

    @abstractmethod
    def find_ticket(self, reference: str) -> Ticket | None:
        """The ticket with its history, or ``None`` if there is none (a malformed reference is a ``StoreError``)."""

    def ticket(self, reference: str) -> Ticket:
        """As ``find_ticket``, but an unknown reference is a ``StoreError``."""
        found = self.find_ticket(reference)
        if found is None:
            raise StoreError(f"ticket {reference!r}: no such ticket")
        return found

    @abstractmethod
    def open_tickets(self, customer_id: int) -> list[Ticket]:
        """The customer's tickets whose status is in ``OPEN_STATUSES``, newest first."""

    @abstractmethod
    def tickets(self, *, status: str | None = None, department: str | None = None, assignee: str | None = None,
                customer_id: int | None = None, reference: str | None = None, seen_by_agent: str | None = None,
                also_contacts: Iterable[str] = (), also_customers: Iterable[int] = (),
                before: int | None = None, limit: int = 100) -> list[Ticket]:
        """Tickets (with their history) matching every filter given, newest first (by number), those numbered
        below ``before`` only (keyset paging); ``limit`` 1..1000. ``seen_by_agent``: only the tickets that agent
        may see: assigned to it, or whose contact was offered to or served by it (a stored CDR) or is one of
        ``also_contacts``, or whose customer had such a contact (a recorded interaction) or is one of
        ``also_customers``. ``StoreError`` for an unknown status, a malformed reference or a bad limit."""

    # ----------------------------------------------------------------------------------------- lead lists ----
    # Statuses are ``engine.leads.LEAD_STATUSES``: "new" (imported, never attempted), "scheduled" (attempted, due
    # again at ``next_attempt``), "done", "dnc", "exhausted" (final: never dialled again). "new" and "scheduled"
    # are open. A number is in a campaign at most once (``(campaign, phone)`` is unique, as is ``(campaign, id)``).

    @abstractmethod
    def import_leads(self, campaign: str, parsed: LeadImport, *, source: str = "") -> ImportResult:
        """Add the good rows of ``parsed`` (from ``engine.leads.parse_leads``) to ``campaign`` with status "new", in
        one transaction. A row whose number is already in the campaign is not added again but reported as a
        ``RowError`` "already imported" with its line (likewise an id already used by another number); the parse
        errors are carried over. ``rows == imported + rejected``. The import is recorded (``lead_imports``) with its
        errors; ``same_file_as`` names an earlier import of the same content. ``source`` defaults to
        ``parsed.source``; ``StoreError`` if ``parsed`` was made for another campaign."""

    @abstractmethod
    def leads(self, campaign: str, *, status: str | None = None, limit: int = 1000, offset: int = 0) -> list[Lead]:
        """The campaign's leads (only those in ``status`` if given), in import order; ``limit`` 1..100000."""

    @abstractmethod
    def lead(self, campaign: str, lead_id: str) -> Lead:
        """One lead; ``StoreError`` if the campaign has no such lead."""

    @abstractmethod
    def lead_status(self, campaign: str, lead_id: str) -> str:
        """One lead's status (``Lead`` does not carry it); ``StoreError`` if there is no such lead."""

    @abstractmethod
    def lead_counts(self, campaign: str) -> dict[str, int]:
        """Status -> number of the campaign's leads in it, every status present (0 when none)."""

    @abstractmethod
    def due_leads(self, campaign: str, now: float, limit: int) -> list[Lead]:
        """At most ``limit`` open leads ("new" or "scheduled") whose ``next_attempt`` is None or ``<= now``:
        priority first (highest), then value (highest), then ``next_attempt`` (never-scheduled first, then the
        longest overdue), then import order. Compliance (calling hours, DNC) is not checked here."""

    @abstractmethod
    def record_attempt(self, campaign: str, lead_id: str, *, at: float, outcome: str, next_attempt: float | None,
                       status: str, attempts: int | None = None) -> Lead:
        """After a dial attempt: ``attempts`` + 1, ``last_attempt = at``, the new ``next_attempt`` and ``status``
        (any but "new"; a final status needs ``next_attempt`` None), the outcome kept as the last one. With
        ``attempts`` (the dialer's own count, as ``LeadUpdated`` carries it) the count is set to it instead, and
        ``last_attempt`` moves only if the count grew: a refused dial (no attempt) or the same update written twice
        (a replay) changes nothing it should not. Returns the updated lead; ``StoreError`` for an unknown lead,
        status, negative count or empty outcome (nothing written)."""

    # ---- report intervals (engine.reports)

    @abstractmethod
    def add_report_rows(self, rows: Iterable[IntervalRow]) -> int:
        """Add each row's counters and dispositions to the stored row of its (dimension, key, start), creating it
        when missing, all in one transaction; returns the number of rows given. ``StoreError`` for an unknown
        dimension (nothing written)."""

    @abstractmethod
    def report_rows(self, dimension: str, *, start: float, end: float, key: str | None = None) -> list[IntervalRow]:
        """The stored 15-minute rows of ``dimension`` (queue, agent, campaign) starting in [start, end), of one
        ``key`` or all, by start then key. ``StoreError`` for an unknown dimension, an empty range, or more rows
        than one answer holds."""

    # ---- users, API tokens, audit trail, call detail records (engine.store.access_records)

    @abstractmethod
    def create_user(self, name: str, role: str, *, password_hash: str = "", agent_id: str | None = None,
                    teams: Iterable[str] = ()) -> User:
        """A new user (version 1). ``StoreError`` for a taken or blank name, an unknown role, or an agent user
        without ``agent_id``."""

    @abstractmethod
    def find_user(self, name: str) -> User | None:
        """The user, or ``None``."""

    @abstractmethod
    def user(self, name: str) -> User:
        """The user; ``StoreError`` when there is none."""

    @abstractmethod
    def users(self, *, role: str | None = None) -> list[User]:
        """Every user (of ``role`` if given), by name."""

    @abstractmethod
    def update_user(self, name: str, *, role: str | None = None, password_hash: str | None = None,
                    agent_id: str | None = None, teams: Iterable[str] | None = None,
                    disabled: bool | None = None, clear_agent: bool = False) -> User:
        """Change what is given (``clear_agent`` removes ``agent_id``); the version grows by one. A new password
        revokes the user's session tokens; disabling revokes all its tokens. ``StoreError`` for an unknown user
        or role, or an agent user left without ``agent_id``."""

    @abstractmethod
    def delete_user(self, name: str) -> None:
        """Remove the user and its tokens; ``StoreError`` when there is none."""

    @abstractmethod
    def add_token(self, token: ApiToken) -> ApiToken:
        """Store a new token. ``StoreError`` for a taken id, an unknown role, kind or user, a blank name."""

    @abstractmethod
    def token_by_hash(self, secret_hash: str) -> ApiToken | None:
        """The token whose secret hashes to ``secret_hash`` (revoked and expired ones included), or ``None``."""

    @abstractmethod
    def token(self, token_id: str) -> ApiToken:
        """The token by its public id; ``StoreError`` when there is none."""

    @abstractmethod
    def tokens(self, *, user: str | None = None, include_revoked: bool = False) -> list[ApiToken]:
        """Tokens (of ``user`` if given; revoked ones only when asked), oldest first."""

    @abstractmethod
    def revoke_token(self, token_id: str) -> ApiToken:
        """Revoke the token now (revoking it again changes nothing); ``StoreError`` when there is none."""

    @abstractmethod
    def add_audit(self, who: str, action: str, target: str, details: dict[str, Any] | None = None, *,
                  at: float | None = None) -> AuditEntry:
        """Append one entry to the audit trail (``at`` defaults to the store's clock); ``StoreError`` for an empty
        who, action or target, or details that are not JSON-serialisable."""

    @abstractmethod
    def audit(self, *, who: str | None = None, target: str | None = None, since: float | None = None,
              until: float | None = None, before_id: int | None = None, limit: int = 100) -> list[AuditEntry]:
        """Audit entries matching every filter given, newest first; ``before_id`` pages backwards; ``limit``
        1..1000."""

    @abstractmethod
    def add_cdrs(self, records: Iterable[Cdr]) -> int:
        """Write call detail records in one transaction; a record whose contact is already stored replaces it (a
        replayed journal writes the same records again). Returns how many were given."""

    @abstractmethod
    def cdr(self, contact_id: str) -> Cdr | None:
        """One contact's record, or ``None``."""

    @abstractmethod
    def cdrs(self, *, since: float | None = None, until: float | None = None, queue: str | None = None,
             agent: str | None = None, customer: str | None = None, outcome: str | None = None,
             channel: str | None = None, after: tuple[float, str] | None = None,
             limit: int = 100) -> list[Cdr]:
        """Records matching every filter given (``agent``: any agent the contact was offered to or served by;
        ``since``/``until`` on ``recorded``), ordered by ``(recorded, contact_id)``, starting after the key
        ``after`` (keyset pagination); ``limit`` 1..1000."""

    @abstractmethod
    def lead_imports(self, campaign: str) -> list[dict[str, Any]]:
        """The campaign's imports, oldest first: ``id, campaign, source, digest, at, imported, rejected,
        error_count`` and ``errors`` (``RowError.to_dict()`` items, at most 10,000 kept per import)."""
