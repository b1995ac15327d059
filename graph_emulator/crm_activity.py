"""Dataverse activity in Microsoft Purview's audit log (record type `crm`), derived from the sign-in log.

Why from the sign-ins: the emulator must tell one story. A Dataverse SDK operation needs a token for Dataverse, so every
CRM record follows a successful interactive sign-in to Dataverse (appId or resourceId 00000007-...): a session. About two
users in three work in such a session (1 to 6 operations: Retrieve, RetrieveMultiple, Update, Create, Delete,
ExportToExcel, seconds to minutes apart); the others only sign in and produce no record, the case a licence manager must
tell apart from work. Sign-ins to other applications (Business Central, Outlook, ...) produce no CRM record. Like the
sign-in log, nothing is stored: record k of a session is a pure function of (sign-in, k).

Records appear in Purview late: Microsoft documents no guarantee ("typically 60 to 90 minutes" for core services,
"may be longer" for others, https://learn.microsoft.com/purview/audit-search). Each record gets a deterministic lag of
30 to 120 minutes, one in fifty 2 to 26 hours; a record is in the log once the tenant clock reaches
createdDateTime + lag.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterator

from . import catalog
from .gen import TICKS, format_ticks, guid, mix
from .signins import INTERACTIVE, Row, SignInLog

MINUTE = 60 * TICKS
# (operation, weight): reads dominate, as in Microsoft's examples; ExportToExcel is the rare bulk read.
OPERATIONS = (
    ("Retrieve", 40),
    ("RetrieveMultiple", 30),
    ("Update", 12),
    ("Create", 8),
    ("Delete", 3),
    ("ExportToExcel", 2),
)
_OPERATION_TABLE = tuple(name for name, weight in OPERATIONS for _ in range(weight))
MULTIPLE = frozenset({"RetrieveMultiple", "ExportToExcel"})  # no single record: EntityId is the empty GUID
ENTITIES = (
    "account",
    "contact",
    "lead",
    "opportunity",
    "incident",
    "task",
    "email",
    "phonecall",
    "quote",
    "annotation",
)
MAX_OPERATIONS = 6  # per session
_FIRST_GAP = (5, 120)  # seconds from the sign-in to the first operation
_NEXT_GAP = (10, 900)  # seconds between operations
SESSION_SPAN = (_FIRST_GAP[1] + (MAX_OPERATIONS - 1) * _NEXT_GAP[1]) * TICKS  # the latest operation after its sign-in
LATE_SHARE = 50  # one record in LATE_SHARE arrives hours late
# A session's records are all in the log this long after its sign-in: its span and the longest lag (_lag).
ALL_IN_LOG_AFTER = SESSION_SPAN + 26 * 60 * MINUTE
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
RECORD_TYPE = "CRM"  # as the v1.0 metadata names the member and live records spell record types (see the README)
CRM_RECORD_TYPE_NUMBER = 21  # Office 365 Management Activity API: AuditLogRecordType CRM
_USER_AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Edg/131.0.0.0"


@dataclass(frozen=True)
class Environment:
    """A production Dataverse environment of the tenant (Purview only logs production environments)."""

    url: str
    unique_name: str


ENVIRONMENTS = (
    Environment("https://contoso.crm4.dynamics.com", "unq5f1e2d3c4b5a69788796a5b4c3d2e1f0"),
    Environment("https://contoso-service.crm.dynamics.com", "unq0a1b2c3d4e5f60718293a4b5c6d7e8f9"),
)


@dataclass(frozen=True)
class CrmRecord:
    """One audit record; `ticks` is createdDateTime (whole seconds), `visible` when it reaches the log."""

    ticks: int
    visible: int
    record_id: str
    operation: str
    upn: str
    ip: str
    object_id: str | None
    body: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The auditLogRecord as `/records` serves it (a fresh copy: callers may keep or change it)."""
        return json.loads(json.dumps(self.body))


class CrmActivity:
    """The tenant's CRM records, scanned from the sign-in log on demand."""

    def __init__(self, seed: int, log: SignInLog, tenant_id: str) -> None:
        self._salt = mix(seed * 104_729 + 29)
        self._log = log
        self._tenant_id = tenant_id

    def works(self, user: int) -> bool:
        """About two users in three who sign in to Dataverse also work there; the rest only sign in."""
        return mix(self._salt ^ user) % 3 != 0

    def working_users(self, lo: int, hi: int) -> set[int]:
        """Truth for tests: the users who start a working session (a sign-in that produces CRM records) with
        lo <= sign-in < hi (ticks): who worked in Dataverse then, by the tenant's own story."""
        return {row.user for row in self._log.scan(lo, hi, event_types=(INTERACTIVE,)) if self._is_session(row)}

    def records(self, lo: int, hi: int, as_of: int) -> Iterator[CrmRecord]:
        """Records with lo <= createdDateTime < hi (ticks) that are in the log at tenant time `as_of`.

        Sessions start before their operations, so the scan reaches SESSION_SPAN further back than `lo`.
        """
        for row in self._log.scan(lo - SESSION_SPAN, min(hi, as_of + 1), event_types=(INTERACTIVE,)):
            if not self._is_session(row):
                continue
            for record in self._session(row):
                if lo <= record.ticks < hi and record.ticks <= as_of and record.visible <= as_of:
                    yield record

    def _is_session(self, row: Row) -> bool:
        """A successful interactive sign-in to Dataverse by a user who works."""
        app = row.app
        return catalog.DATAVERSE in (app.app_id, app.resource_id) and row.status[0] == 0 and self.works(row.user)

    def _session(self, row: Row) -> Iterator[CrmRecord]:
        """The operations a working user performs after this sign-in."""
        h = mix(self._salt ^ row.h1)
        count = 1 + h % MAX_OPERATIONS
        place = mix(self._salt + row.user) % len(ENVIRONMENTS)
        ticks = row.ticks - row.ticks % TICKS
        for k in range(count):
            hk = mix(h + k + 1)
            low, high = _FIRST_GAP if k == 0 else _NEXT_GAP
            ticks += (low + hk % (high - low + 1)) * TICKS
            yield self._record(row, place, ticks, hk)

    def _record(self, row: Row, place: int, ticks: int, h: int) -> CrmRecord:
        """One operation as Graph's auditLogRecord, auditData after Microsoft's Dataverse activity-logging schema."""
        environment = ENVIRONMENTS[place]
        operation = _OPERATION_TABLE[h % len(_OPERATION_TABLE)]
        entity = ENTITIES[(h >> 8) % len(ENTITIES)]
        record_id = guid(h, mix(h ^ 0xA5A5))
        ident = row.directory.identity(row.user)
        entity_id = EMPTY_GUID if operation in MULTIPLE else guid(mix(h ^ 0x17), mix(h ^ 0x29))
        system_user_id = guid(mix(self._salt ^ (row.user << 4 | place)), mix(row.user * 31 + place))
        created = format_ticks(ticks)
        ip = row.ip
        audit_data = {
            "@odata.type": "#microsoft.graph.security.defaultAuditData",
            "CreationTime": created.rstrip("Z"),
            "Id": record_id,
            "Operation": operation,
            "OrganizationId": self._tenant_id,
            "RecordType": CRM_RECORD_TYPE_NUMBER,
            "ResultStatus": "Success",
            "UserKey": ident.id,
            "UserType": 0,
            "Version": 1,
            "Workload": "CRM",
            "ClientIP": ip,
            "UserId": ident.upn,
            "CrmOrganizationUniqueName": environment.unique_name,
            "InstanceUrl": environment.url,
            "ItemType": entity,
            "ItemUrl": None
            if operation in MULTIPLE
            else f"{environment.url}/main.aspx?etn={entity}&pagetype=entityrecord&id={entity_id}",
            "Message": operation,
            "EntityId": entity_id,
            "EntityName": entity,
            "Fields": [],
            "Query": '<filter type="and"><condition column="statecode" operator="eq" value="0" /></filter>'
            if operation in MULTIPLE
            else "N/A",
            "QueryResults": "N/A",
            "ServiceContextId": None,
            "ServiceContextIdType": None,
            "ServiceName": "CrmSvc",
            "SystemUserId": system_user_id,
            "UserAgent": _USER_AGENT,
            "UserUpn": ident.upn,
        }
        object_id = None if operation in MULTIPLE else entity_id
        body = {
            "@odata.type": "#microsoft.graph.security.auditLogRecord",
            "id": record_id,
            "createdDateTime": created,
            "auditLogRecordType": RECORD_TYPE,
            "operation": operation,
            "organizationId": self._tenant_id,
            "userType": "Regular",
            "userId": ident.id,
            "service": "CRM",
            "objectId": object_id,
            "userPrincipalName": ident.upn,
            "clientIp": ip,
            "administrativeUnits": [],
            "auditData": audit_data,
        }
        return CrmRecord(ticks, ticks + _lag(h), record_id, operation, ident.upn, ip, object_id, body)


def _lag(h: int) -> int:
    """How long after createdDateTime a record reaches the log: 30-120 minutes, one in LATE_SHARE 2-26 hours."""
    if (h >> 20) % LATE_SHARE == 0:
        return (2 * 60 + (h >> 28) % (24 * 60)) * MINUTE
    return (30 + (h >> 28) % 91) * MINUTE
