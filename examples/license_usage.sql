-- Dynamics 365 license usage: which Dynamics 365 seats are held by people who do not use the product they hold, what
-- they cost a month and a year, and what to do with each: a license manager's worklist, one action and its reason per
-- seat, with the evidence and the ids a script needs.
--
-- Written for DuckDB; see "Porting" below for a warehouse. `make demo` runs it (tools/license_usage.py).
--
-- Input: the tables an Airbyte sync of source-dynamics365-cc leaves behind, named after its streams, one row per
-- primary key (an append_dedup destination, or PyAirbyte's cache):
--   users                     id, userPrincipalName, displayName, accountEnabled, userType, assignedLicenses,
--                             assignedPlans, licenseAssignmentStates, signInActivity
--   subscribed_skus           skuId, skuPartNumber, appliesTo, prepaidUnits, consumedUnits, servicePlans,
--                             productDisplayName, isDynamics365: the connector's classification of each SKU (from
--                             Microsoft's licence table it ships), the same that chose whose licenses the users and
--                             groups streams read; a table synced by 0.3.0 or earlier lacks the two columns: sync
--                             subscribed_skus again
--   sign_ins                  userId, createdDateTime, appId, appDisplayName, resourceId, status
--   non_interactive_sign_ins  the same columns; create it empty when that stream is not synced:
--                             CREATE TABLE non_interactive_sign_ins AS SELECT * FROM sign_ins LIMIT 0;
--   groups                    id, displayName: the groups that assign Dynamics 365 licenses; create it empty when
--                             that stream is not synced (the app lacks GroupMember.Read.All), and the reclaim list
--                             shows a group's id instead of its name:
--                             CREATE TABLE groups (id VARCHAR, displayName VARCHAR);
-- Three optional streams (their permissions are optional) and a table the connector does not fill yet; create each
-- empty when it is not synced, and the answer says what it lacks:
--   subscriptions             skuId, status, isTrial, totalLicenses, nextLifecycleDateTime, createdDateTime (the
--                             subscriptions stream, Graph's /directory/subscriptions): the renewal date, and which
--                             SKUs are trials. Empty: "renewal date unknown", trials known by sku_roles only.
--                             CREATE TABLE subscriptions (skuId VARCHAR, status VARCHAR, isTrial BOOLEAN,
--                                 totalLicenses INTEGER, nextLifecycleDateTime TIMESTAMPTZ, createdDateTime TIMESTAMPTZ);
--   directory_role_assignments  principalId, roleDefinitionId (the directory_role_assignments stream, Graph's
--                             /roleManagement/directory/roleAssignments): who holds a directory role. Empty: nobody
--                             is classified "administrator only".
--                             CREATE TABLE directory_role_assignments (principalId VARCHAR, roleDefinitionId VARCHAR);
--   dynamics_activity         createdDateTime, operation, userPrincipalName, userType, auditData (the
--                             dynamics_activity stream: Dataverse operations from Microsoft Purview's audit log,
--                             AuditLogsQuery-CRM.Read.All): who worked, not only who signed in, and in which
--                             tables. Empty: a Dataverse seat is used on a sign-in alone, and nobody is "signed in but
--                             never worked" or writing outside Team Members rights.
--                             CREATE TABLE dynamics_activity (id VARCHAR, createdDateTime TIMESTAMPTZ,
--                                 auditLogRecordType VARCHAR, operation VARCHAR, service VARCHAR, userId VARCHAR,
--                                 userPrincipalName VARCHAR, userType VARCHAR, clientIp VARCHAR, objectId VARCHAR,
--                                 organizationId VARCHAR, administrativeUnits JSON, auditData JSON);
--   leavers                   id, employeeLeaveDateTime: the users whose employeeLeaveDateTime is set, which Graph
--                             returns only to an app granted User-LifeCycleInfo.Read.All (the connector selects it
--                             only then). Empty: nobody is classified a leaver.
--                             CREATE TABLE leavers (id VARCHAR, employeeLeaveDateTime TIMESTAMPTZ);
-- and tables of your own, each loaded from the CSV of the same name in examples/ ('#' lines are comments):
--   sku_prices                sku_part_number, monthly_price, currency: your price per seat and month; empty, the
--                             answer shows no money (examples/example_prices.csv holds EXAMPLE prices)
--   sku_thresholds            sku_part_number, threshold_days: days without use after which a seat is reclaimable;
--                             a SKU not listed uses 30
--   dynamics_apps             app_id, app_name, family, evidence: the applications whose sign-ins are evidence, and
--                             of what (examples/dynamics_apps.csv, with its sources)
--   sku_families              sku_id, sku_part_number, family: the product family a SKU is used in, derived from
--                             Microsoft's service plans (examples/sku_families.csv, tools/sku_families.py)
--   sku_roles                 sku_part_number, role, attach_sku, qualifying_bases: base, attach, team_members,
--                             device, activity, trial, capacity, from Microsoft's licensing guide
--                             (examples/sku_roles.csv)
--   team_members_tables       entity_name, may_write, scenario: the Dataverse tables a Team Members licence may
--                             write, a summary of Microsoft's licensing guide to check against its current edition
--                             (examples/team_members_tables.csv)
--   exclusions                holder, sku_part_number, reason, owner, until: seats the worklist leaves out, until that
--                             day (examples/exclusions.csv; may be empty)
-- Graph's nested objects and arrays are JSON columns, as in PyAirbyte's DuckDB cache. createdDateTime is a
-- TIMESTAMP WITH TIME ZONE, or a TIMESTAMP holding UTC (PyAirbyte's cache): the UTC session below reads both alike.
-- Identifiers are unquoted: DuckDB matches them case-insensitively, so the same text runs on Graph's camelCase
-- columns and on PyAirbyte's lowercased ones.
--
-- Parameters:
--   as_of           the instant the windows end. Use the end of the sync, not the wall clock: a sync read
--                   yesterday must not make everybody look a day idler.
--                   SET VARIABLE as_of = TIMESTAMPTZ '2026-11-26 12:00:00+00';
--   evidence_start  optional: when the synced sign-ins begin (the first sync's start_date). Unset, the earliest
--                   sign-in record, which can only understate the evidence.
--
-- Output: nine views.
--   evidence       one row: where the sign-in evidence starts, how many days it covers, and which of the optional
--                  tables hold anything (renewal dates, directory roles, leave dates, Dataverse activity).
--   license_usage  one row per Dynamics 365 seat SKU (appliesTo "User"): product, role, units bought, assigned and
--                  unassigned (none for a trial or a device licence: not a purchase of seats for people), holders,
--                  the SKU's threshold, who used it in 7 days and in the threshold (and of those, with Dataverse
--                  activity synced, who worked and who only signed in), who is still in the grace period of
--                  a new assignment, who is idle (and of those, through a group), the renewal date, and with a price
--                  list what the idle and unassigned seats cost a month and a year.
--   holder_seats   every holder's seat with its status and, for a seat not on the worklist, the reason it is not.
--   reclaim        the worklist: one row per user and SKU to act on, with the action (remove, downgrade, convert,
--                  review), the reason in words, the ids (user, SKU, group), the evidence (sign-ins, and Dataverse
--                  reads and writes) and the money.
--   excluded       the seats the exclusions table keeps off the worklist, with its reason, owner and date.
--   seats          every holder's seat: on the worklist with its action, or the reason it is not.
--   add_ons        Dynamics 365 SKUs that are no one's seat (appliesTo "Company": storage, capacity).
--   money          per currency: the monthly and annual cost of idle and of unassigned seats.
--   money_by_action  per currency and action: seats, and what the action saves a month and a year.
--
-- Porting (DuckDB -> Snowflake / BigQuery / PostgreSQL):
--   getvariable('as_of')               a bind parameter (or CURRENT_TIMESTAMP if the data is fresh)
--   json_each(x) AS e ... e.value->>'k'  Snowflake LATERAL FLATTEN(input => x) e ... e.value:k::string;
--                                      BigQuery UNNEST(JSON_QUERY_ARRAY(x)) e ... JSON_VALUE(e, '$.k');
--                                      PostgreSQL jsonb_array_elements(x) e ... e->>'k'
--   x->>'k'                            Snowflake x:k::string; BigQuery JSON_VALUE(x, '$.k'); PostgreSQL x->>'k'
--   ts - INTERVAL 7 DAY                Snowflake DATEADD(day, -7, ts); BigQuery TIMESTAMP_SUB(ts, INTERVAL 7 DAY)
--   ts - to_days(n)                    Snowflake DATEADD(day, -n, ts); BigQuery TIMESTAMP_SUB(ts, INTERVAL n DAY);
--                                      PostgreSQL ts - make_interval(days => n)
--   epoch(ts)                          Snowflake DATE_PART(epoch_second, ts); BigQuery UNIX_SECONDS(ts)
--   greatest(a, b), nullif(a, b)       the same; Snowflake answers NULL if any argument is NULL, so every call
--                                      below gets non-NULL arguments
--   string_agg(x, ', ' ORDER BY x)     Snowflake LISTAGG(x, ', ') WITHIN GROUP (ORDER BY x)
--   position(a IN b)                   Snowflake POSITION(a IN b); BigQuery STRPOS(b, a); PostgreSQL the same
--   bool_or(x)                         Snowflake BOOLOR_AGG(x); BigQuery LOGICAL_OR(x)
--   row_number() OVER (...)            the same everywhere
--   CAST(x AS VARCHAR)                 BigQuery CAST(x AS STRING); the others the same
--   SET TimeZone = 'UTC'               Snowflake ALTER SESSION SET TIMEZONE = 'UTC'; PostgreSQL SET TIME ZONE 'UTC'
--   CREATE TEMP VIEW                   CREATE VIEW, or one dbt model per view

-- DuckDB's ->> binds more loosely than = and IS: keep each JSON path in parentheses.
-- UTC: DuckDB counts calendar days of a TIMESTAMPTZ, and reads a TIMESTAMP as a TIMESTAMPTZ, in the session time zone.
SET TimeZone = 'UTC';

-- The tenant's Dynamics 365 SKUs, as the connector classified them (isDynamics365): by Microsoft's product name in its
-- licence table, with a fallback for SKUs newer than the table, never by a part-number rule of this file's own, so
-- the answer counts the SKUs whose holders the connector read. Bought: prepaidUnits.enabled. Assigned: consumedUnits.
-- A seat is a SKU that applies to users; "Company" SKUs (storage, capacity) are the tenant's and nobody's to reclaim.
-- The product name is Microsoft's (productDisplayName), or the part number for a SKU newer than the table. The role
-- comes from sku_roles (a SKU not listed is a base); a trial's free units and a device licence's units are no seats
-- bought for people, so they never count as "unassigned". A trial is a SKU sku_roles calls one, or one whose
-- subscriptions in force are all trials (isTrial: a trial of a paid product keeps its part number). The renewal date
-- is the earliest nextLifecycleDateTime of the SKU's subscriptions still in force: from then on a reduction saves
-- money.
CREATE OR REPLACE TEMP VIEW dynamics_skus AS
SELECT
    sku.skuId AS sku_id,
    sku.skuPartNumber AS sku_part_number,
    coalesce(sku.productDisplayName, sku.skuPartNumber) AS product_name,
    coalesce(sku.appliesTo, 'User') = 'User' AS is_seat,
    coalesce(role.role, 'base') AS role,
    role.attach_sku,
    role.qualifying_bases,
    coalesce(renewal.trial, FALSE) AS trial,
    coalesce(role.role, 'base') NOT IN ('trial', 'device') AND NOT coalesce(renewal.trial, FALSE) AS counts_unassigned,
    CAST(sku.prepaidUnits ->> 'enabled' AS INTEGER) AS units_bought,
    sku.consumedUnits AS units_assigned,
    coalesce(threshold.threshold_days, 30) AS threshold_days,
    price.monthly_price,
    price.currency,
    attach_price.monthly_price AS attach_monthly_price,
    renewal.renewal_date,
    sku.servicePlans AS service_plans
FROM subscribed_skus AS sku
LEFT JOIN sku_thresholds AS threshold ON threshold.sku_part_number = sku.skuPartNumber
LEFT JOIN sku_prices AS price ON price.sku_part_number = sku.skuPartNumber
LEFT JOIN sku_roles AS role ON role.sku_part_number = sku.skuPartNumber
LEFT JOIN sku_prices AS attach_price ON attach_price.sku_part_number = role.attach_sku
    AND attach_price.currency = price.currency
LEFT JOIN (
    SELECT skuId AS sku_id, min(nextLifecycleDateTime) AS renewal_date,
        min(CASE WHEN isTrial THEN 1 ELSE 0 END) = 1 AS trial
    FROM subscriptions
    WHERE status IN ('Enabled', 'Warning')
    GROUP BY skuId
) AS renewal ON lower(renewal.sku_id) = lower(sku.skuId)
WHERE sku.isDynamics365;

-- The product family each seat is used in (sku_families, derived from Microsoft's service plans): Dataverse, Business
-- Central, Finance and Operations. A SKU the table does not place ('*') counts a sign-in to any family.
CREATE OR REPLACE TEMP VIEW seat_families AS
SELECT sku.sku_id, coalesce(family.family, '*') AS family
FROM dynamics_skus AS sku
LEFT JOIN sku_families AS family ON lower(family.sku_id) = lower(sku.sku_id);

CREATE OR REPLACE TEMP VIEW seat_family_names AS
SELECT sku_id, string_agg(CASE WHEN family = '*' THEN 'Dynamics 365' ELSE family END, ' or ' ORDER BY family) AS families
FROM seat_families
GROUP BY sku_id;

-- Every successful sign-in up to as_of that tells of Dynamics 365, interactive or not, with its family and what it is
-- evidence of (dynamics_apps): 'use' when the client (appId) is the product's own application; otherwise the listed
-- client's kind ('admin centre', 'Power Apps') or 'other client' for an unlisted client reaching a product
-- (resourceId: the Outlook add-in, a custom client). A failed sign-in (wrong password, blocked by Conditional Access)
-- is nothing. sign_ins holds only the connector's sign_in_app_ids (the four Dynamics 365 ones by default, which also
-- catch every client reaching them); the list keeps the answer right when a connection reads every application.
CREATE OR REPLACE TEMP VIEW dynamics_sign_ins AS
SELECT
    sign_in.user_id,
    sign_in.created_at,
    sign_in.interactive,
    coalesce(client.family, resource.family) AS family,
    coalesce(client.evidence, 'other client') AS evidence,
    CASE
        WHEN coalesce(client.evidence, 'other client') <> 'use'
            THEN coalesce(client.app_name, sign_in.app_name, sign_in.app_id)
                || ' (' || coalesce(client.evidence, 'other client') || ')'
    END AS other_client
FROM (
    SELECT userId AS user_id, createdDateTime AS created_at, lower(appId) AS app_id, appDisplayName AS app_name,
           lower(resourceId) AS resource_id, status, TRUE AS interactive
    FROM sign_ins
    UNION ALL
    SELECT userId, createdDateTime, lower(appId), appDisplayName, lower(resourceId), status, FALSE
    FROM non_interactive_sign_ins
) AS sign_in
LEFT JOIN dynamics_apps AS client ON lower(client.app_id) = sign_in.app_id
LEFT JOIN dynamics_apps AS resource ON lower(resource.app_id) = sign_in.resource_id AND resource.evidence = 'use'
WHERE CAST(sign_in.status ->> 'errorCode' AS INTEGER) = 0
  AND sign_in.created_at <= getvariable('as_of')
  AND (client.app_id IS NOT NULL OR resource.app_id IS NOT NULL);

-- What the sign-in evidence covers: from evidence_start (or the earliest sign-in record of any application) to as_of.
-- "No sign-in in 30 days" is only true if the records cover 30 days: after a first sync from 10 days back they cover
-- 10, and nobody is called idle for longer than that. No records at all: no evidence, nobody idle. And what the
-- optional tables hold: an empty one is a stream not synced, whose classification the answer cannot make (an empty
-- dynamics_activity is also a tenant whose Dataverse activity logging is off: the same unknown).
CREATE OR REPLACE TEMP VIEW evidence AS
SELECT
    start_at AS evidence_start,
    CAST(floor((epoch(getvariable('as_of')) - epoch(start_at)) / 86400) AS INTEGER) AS evidence_days,
    (SELECT count(*) FROM subscriptions) > 0 AS renewal_dates_known,
    (SELECT count(*) FROM directory_role_assignments) > 0 AS directory_roles_known,
    (SELECT count(*) FROM leavers) > 0 AS leave_dates_known,
    (SELECT count(*) FROM dynamics_activity) > 0 AS activity_known,
    (SELECT count(*) FROM dynamics_activity WHERE userType = 'Regular' AND createdDateTime <= getvariable('as_of'))
        AS activity_records
FROM (
    SELECT coalesce(
        CAST(getvariable('evidence_start') AS TIMESTAMPTZ),
        (SELECT min(createdDateTime) FROM (
            SELECT createdDateTime FROM sign_ins UNION ALL SELECT createdDateTime FROM non_interactive_sign_ins
        ) AS record),
        getvariable('as_of')
    ) AS start_at
) AS bounds;

-- Who holds which Dynamics 365 seat. assignedLicenses lists the licenses in effect, direct or through a group, the
-- ones consumedUnits counts; an assignment that failed (state Error) is only in licenseAssignmentStates.
CREATE OR REPLACE TEMP VIEW dynamics_holders AS
SELECT DISTINCT
    sku.sku_id,
    u.id AS user_id
FROM users AS u
CROSS JOIN json_each(u.assignedLicenses) AS license
JOIN dynamics_skus AS sku ON sku.sku_id = (license.value ->> 'skuId')
WHERE sku.is_seat;

-- How each holder got the seat: directly, and through which groups (names, and ids for a script). An assignment in
-- effect (Active or ActiveWithError) that names a group cannot be taken back from the user alone: remove the user
-- from the group (or the license from the group). A seat held both ways frees nothing until both are gone.
CREATE OR REPLACE TEMP VIEW seat_routes AS
SELECT
    u.id AS user_id,
    (assignment.value ->> 'skuId') AS sku_id,
    bool_or((assignment.value ->> 'assignedByGroup') IS NULL) AS direct,
    string_agg(
        DISTINCT coalesce(g.displayName, (assignment.value ->> 'assignedByGroup')), ', '
        ORDER BY coalesce(g.displayName, (assignment.value ->> 'assignedByGroup'))
    ) AS through_groups,
    string_agg(
        DISTINCT (assignment.value ->> 'assignedByGroup'), ';' ORDER BY (assignment.value ->> 'assignedByGroup')
    ) AS group_ids
FROM users AS u
CROSS JOIN json_each(u.licenseAssignmentStates) AS assignment
LEFT JOIN groups AS g ON g.id = (assignment.value ->> 'assignedByGroup')
WHERE (assignment.value ->> 'state') IN ('Active', 'ActiveWithError')
GROUP BY u.id, (assignment.value ->> 'skuId');

-- When each holder got the seat, by a rule that does not move when Microsoft adds a service plan to the SKU (the new
-- plan's assignedDateTime is the day it was added): the earliest assignedDateTime of the SKU's plans that no other SKU
-- of the user carries. A plan the SKU shares with another license of the user (Dataverse, Power Apps) is left out,
-- because it may date from that license; only when every plan is shared does the earliest of them count.
CREATE OR REPLACE TEMP VIEW user_sku_plans AS
SELECT DISTINCT u.id AS user_id, sku.skuId AS sku_id, (sku_plan.value ->> 'servicePlanId') AS plan_id
FROM users AS u
CROSS JOIN json_each(u.assignedLicenses) AS license
JOIN subscribed_skus AS sku ON sku.skuId = (license.value ->> 'skuId')
CROSS JOIN json_each(sku.servicePlans) AS sku_plan;

CREATE OR REPLACE TEMP VIEW licensed_since AS
SELECT
    mine.user_id,
    mine.sku_id,
    coalesce(
        min(CASE WHEN carriers.skus = 1 THEN assigned.assigned_at END), min(assigned.assigned_at)
    ) AS licensed_since
FROM user_sku_plans AS mine
JOIN dynamics_holders AS holder ON holder.user_id = mine.user_id AND holder.sku_id = mine.sku_id
JOIN (
    SELECT user_id, plan_id, count(DISTINCT sku_id) AS skus FROM user_sku_plans GROUP BY user_id, plan_id
) AS carriers ON carriers.user_id = mine.user_id AND carriers.plan_id = mine.plan_id
JOIN (
    SELECT
        u.id AS user_id,
        (plan.value ->> 'servicePlanId') AS plan_id,
        CAST((plan.value ->> 'assignedDateTime') AS TIMESTAMPTZ) AS assigned_at
    FROM users AS u
    CROSS JOIN json_each(u.assignedPlans) AS plan
    WHERE (plan.value ->> 'capabilityStatus') = 'Enabled'
) AS assigned ON assigned.user_id = mine.user_id AND assigned.plan_id = mine.plan_id
GROUP BY mine.user_id, mine.sku_id;

-- What each user is: enabled or not, guest, leaver, holder of a directory role, seen signing in interactively (any
-- interactive record, failed ones included: a person at a keyboard), and Entra's last successful sign-in to any application (signInActivity.lastSuccessfulSignInDateTime, not failed attempts).
CREATE OR REPLACE TEMP VIEW user_facts AS
SELECT
    u.id AS user_id,
    coalesce(u.accountEnabled, TRUE) AS account_enabled,
    coalesce(u.userType, 'Member') = 'Guest' AS guest,
    leaver.leave_date,
    coalesce(role.roles, 0) > 0 AS directory_role,
    CAST((u.signInActivity ->> 'lastSuccessfulSignInDateTime') AS TIMESTAMPTZ) AS last_sign_in_any_app,
    coalesce(CAST((u.signInActivity ->> 'lastSignInDateTime') AS TIMESTAMPTZ) >= evidence.evidence_start, FALSE)
        OR interactive.user_id IS NOT NULL AS seen_interactive
FROM users AS u
CROSS JOIN evidence
LEFT JOIN (
    SELECT id, min(employeeLeaveDateTime) AS leave_date FROM leavers GROUP BY id
) AS leaver ON leaver.id = u.id
LEFT JOIN (
    SELECT principalId AS principal_id, count(*) AS roles FROM directory_role_assignments GROUP BY principalId
) AS role ON role.principal_id = u.id
LEFT JOIN (
    SELECT DISTINCT userId AS user_id FROM sign_ins WHERE createdDateTime <= getvariable('as_of')
) AS interactive ON interactive.user_id = u.id;

-- Each seat's evidence: the holder's sign-ins to the seat's own family only (a Dataverse sign-in says nothing about a
-- Business Central seat), and apart from them the other clients that reached it (shown, never counted as use).
CREATE OR REPLACE TEMP VIEW seat_evidence AS
SELECT
    holder.sku_id,
    holder.user_id,
    max(CASE WHEN sign_in.evidence = 'use' THEN sign_in.created_at END) AS last_use,
    max(CASE WHEN sign_in.evidence = 'use' AND sign_in.interactive THEN sign_in.created_at END) AS last_interactive,
    max(CASE WHEN sign_in.evidence = 'use' AND NOT sign_in.interactive THEN sign_in.created_at END)
        AS last_non_interactive,
    max(CASE WHEN sign_in.evidence <> 'use' THEN sign_in.created_at END) AS last_other_client,
    string_agg(DISTINCT sign_in.other_client, ', ' ORDER BY sign_in.other_client) AS other_clients
FROM dynamics_holders AS holder
JOIN seat_families AS seat ON seat.sku_id = holder.sku_id
LEFT JOIN dynamics_sign_ins AS sign_in
    ON sign_in.user_id = holder.user_id AND (sign_in.family = seat.family OR seat.family = '*')
GROUP BY holder.sku_id, holder.user_id;

-- The other product families a holder used within the seat's window (a Business Central seat's holder who works in
-- Dataverse): said in the reason, never counted for the seat.
CREATE OR REPLACE TEMP VIEW families_elsewhere AS
SELECT holder.sku_id, holder.user_id, string_agg(DISTINCT used.family, ', ' ORDER BY used.family) AS families
FROM dynamics_holders AS holder
JOIN dynamics_skus AS sku ON sku.sku_id = holder.sku_id
CROSS JOIN evidence
JOIN dynamics_sign_ins AS used
    ON used.user_id = holder.user_id
    AND used.evidence = 'use'
    AND used.created_at >= greatest(getvariable('as_of') - to_days(sku.threshold_days), evidence.evidence_start)
LEFT JOIN seat_families AS own ON own.sku_id = holder.sku_id AND own.family IN (used.family, '*')
WHERE own.sku_id IS NULL
GROUP BY holder.sku_id, holder.user_id;

-- The Dataverse seats: the SKUs of the Dataverse family (or of none the table places), whose use Dataverse's
-- operations prove. A CRM record is an operation in Dataverse, so it says nothing of Business Central or Finance and
-- Operations seats.
CREATE OR REPLACE TEMP VIEW dataverse_seats AS
SELECT DISTINCT sku_id FROM seat_families WHERE family IN ('Dataverse', '*');

-- Work in Dataverse (dynamics_activity: Purview's audit records of type crm) within the evidence span, up to as_of, by
-- people: userType 'Regular' (System, Application and ServicePrincipal records are no holder's use). Joined on the
-- user principal name, the field Purview documents (its userId is the object id in live records, undocumented). A read
-- is Retrieve, RetrieveMultiple or ExportToExcel, a write Create, Update or Delete; any other message is work too,
-- neither read nor write. The table is auditData.EntityName.
CREATE OR REPLACE TEMP VIEW dataverse_work AS
SELECT
    u.id AS user_id,
    work.createdDateTime AS created_at,
    CASE
        WHEN work.operation IN ('Retrieve', 'RetrieveMultiple', 'ExportToExcel') THEN 'read'
        WHEN work.operation IN ('Create', 'Update', 'Delete') THEN 'write'
        ELSE 'other'
    END AS kind,
    lower(work.auditData ->> 'EntityName') AS table_name
FROM dynamics_activity AS work
JOIN users AS u ON lower(u.userPrincipalName) = lower(work.userPrincipalName)
CROSS JOIN evidence
WHERE work.userType = 'Regular'
  AND work.createdDateTime <= getvariable('as_of')
  AND work.createdDateTime >= evidence.evidence_start;

-- Each Dataverse seat's work: the last operation, the reads and writes in the evidence span, and the writes to tables
-- a Team Members licence may not write (team_members_tables: a table not listed may not be written either).
CREATE OR REPLACE TEMP VIEW seat_work AS
SELECT
    holder.sku_id,
    holder.user_id,
    max(work.created_at) AS last_activity,
    count(CASE WHEN work.kind = 'read' THEN 1 END) AS reads,
    count(CASE WHEN work.kind = 'write' THEN 1 END) AS writes,
    count(CASE WHEN work.kind = 'write' AND NOT coalesce(rights.may_write, FALSE) THEN 1 END) AS writes_outside,
    string_agg(
        DISTINCT CASE WHEN work.kind = 'write' AND NOT coalesce(rights.may_write, FALSE) THEN work.table_name END, ', '
        ORDER BY CASE WHEN work.kind = 'write' AND NOT coalesce(rights.may_write, FALSE) THEN work.table_name END
    ) AS tables_outside
FROM dynamics_holders AS holder
JOIN dataverse_seats AS seat ON seat.sku_id = holder.sku_id
JOIN dataverse_work AS work ON work.user_id = holder.user_id
LEFT JOIN team_members_tables AS rights ON lower(rights.entity_name) = work.table_name
GROUP BY holder.sku_id, holder.user_id;

-- One row per holder and seat, with the evidence. The window a holder is judged on runs from as_of minus the SKU's
-- threshold, or from the start of the evidence if that is later. A seat assigned within the threshold is in its grace
-- period, not idle whatever its sign-ins, unless the account is disabled: nobody can start using that seat. days_idle
-- counts from the last sign-in to the seat's family, the seat's assignment or the start of the evidence, whichever is
-- latest, so it never claims more than the records show. Idle (in holder_seats): past the grace period, with
-- evidence, and no sign-in to the seat's family in the window. With dynamics_activity synced, a Dataverse seat's
-- operations are use as its sign-ins are (counts_work), and its reads and writes are counted (NULL: not known); a
-- holder past the grace period who signed in to the seat's family in the window and did no operation in it signed in
-- but never worked.
CREATE OR REPLACE TEMP VIEW holder_activity AS
SELECT
    holder.sku_id,
    holder.user_id,
    sku.role,
    sku.threshold_days,
    since.licensed_since,
    seen.last_interactive,
    seen.last_non_interactive,
    seen.last_use AS last_sign_in,
    seen.other_clients,
    work.last_activity AS last_dataverse_activity,
    CASE WHEN seat.counts_work THEN coalesce(work.reads, 0) END AS dataverse_reads,
    CASE WHEN seat.counts_work THEN coalesce(work.writes, 0) END AS dataverse_writes,
    CASE WHEN seat.counts_work AND sku.role = 'team_members' THEN coalesce(work.writes_outside, 0) END
        AS writes_outside_team_members,
    CASE WHEN sku.role = 'team_members' THEN work.tables_outside END AS tables_outside_team_members,
    seat.counts_work,
    coalesce(work.last_activity >= judged.window_start, FALSE) AS worked_in_window,
    seat.counts_work
        AND NOT seat.in_grace
        AND coalesce(seen.last_use >= judged.window_start, FALSE)
        AND NOT coalesce(work.last_activity >= judged.window_start, FALSE) AS signed_in_not_worked,
    CAST(floor((epoch(getvariable('as_of')) - epoch(judged.window_start)) / 86400) AS INTEGER) AS window_days,
    coalesce(seen.last_other_client >= judged.window_start, FALSE) AS other_client_in_window,
    elsewhere.families AS families_used_instead,
    coalesce(route.direct, FALSE) AS direct,
    route.through_groups,
    route.group_ids,
    person.account_enabled,
    person.guest,
    person.leave_date,
    person.directory_role,
    person.seen_interactive,
    person.last_sign_in_any_app,
    names.families,
    sku.sku_part_number,
    sku.attach_sku,
    sku.qualifying_bases,
    sku.monthly_price,
    sku.attach_monthly_price,
    sku.currency,
    sku.renewal_date,
    coalesce(seat.last_use >= getvariable('as_of') - INTERVAL 7 DAY, FALSE) AS used_7_days,
    coalesce(seat.last_use >= judged.window_start, FALSE) AS used_in_window,
    seat.in_grace,
    judged.window_start < getvariable('as_of') AS has_evidence,
    CAST(floor((epoch(getvariable('as_of')) - epoch(greatest(
        coalesce(seat.last_use, evidence.evidence_start),
        coalesce(since.licensed_since, evidence.evidence_start),
        evidence.evidence_start
    ))) / 86400) AS INTEGER) AS days_idle,
    coalesce(seat.last_use < evidence.evidence_start, TRUE)
        AND coalesce(since.licensed_since < evidence.evidence_start, TRUE) AS idle_longer_than_evidence
FROM dynamics_holders AS holder
JOIN dynamics_skus AS sku ON sku.sku_id = holder.sku_id
JOIN user_facts AS person ON person.user_id = holder.user_id
JOIN seat_family_names AS names ON names.sku_id = holder.sku_id
CROSS JOIN evidence
CROSS JOIN LATERAL (
    SELECT greatest(getvariable('as_of') - to_days(sku.threshold_days), evidence.evidence_start) AS window_start
) AS judged
LEFT JOIN seat_evidence AS seen ON seen.user_id = holder.user_id AND seen.sku_id = holder.sku_id
LEFT JOIN seat_work AS work ON work.user_id = holder.user_id AND work.sku_id = holder.sku_id
LEFT JOIN dataverse_seats AS dataverse ON dataverse.sku_id = holder.sku_id
LEFT JOIN licensed_since AS since ON since.user_id = holder.user_id AND since.sku_id = holder.sku_id
-- counts_work: the seat's operations are known and count; in_grace: a new seat of an enabled account; last_use: the
-- later of the last sign-in to the seat's family and the last Dataverse operation (NULL-safe: Snowflake's greatest is
-- not).
CROSS JOIN LATERAL (
    SELECT
        dataverse.sku_id IS NOT NULL AND evidence.activity_known AS counts_work,
        person.account_enabled
            AND coalesce(since.licensed_since > getvariable('as_of') - to_days(sku.threshold_days), FALSE) AS in_grace,
        CASE
            WHEN work.last_activity IS NULL OR seen.last_use >= work.last_activity THEN seen.last_use
            ELSE work.last_activity
        END AS last_use
) AS seat
LEFT JOIN seat_routes AS route ON route.user_id = holder.user_id AND route.sku_id = holder.sku_id
LEFT JOIN families_elsewhere AS elsewhere ON elsewhere.user_id = holder.user_id AND elsewhere.sku_id = holder.sku_id;

-- Right-sizing on the roles of the seats one user holds (sku_roles, from Microsoft's licensing guide). Of two or more
-- full base licences the dearest stays the base and each other one whose attach edition that base qualifies for
-- becomes it; Team
-- Members beside a full licence (base or attach) adds nothing the full licence lacks; an attach licence needs one of
-- its qualifying bases beside it.
CREATE OR REPLACE TEMP VIEW seat_roles AS
WITH ranked AS (
    SELECT
        holder.sku_id,
        holder.user_id,
        sku.sku_part_number,
        sku.attach_sku,
        CASE WHEN sku.role = 'base' THEN row_number() OVER (
            PARTITION BY holder.user_id, sku.role = 'base'
            ORDER BY sku.monthly_price DESC NULLS LAST, sku.sku_part_number
        ) END AS base_rank,
        full_licence.parts AS full_licences,
        sku.role = 'attach' AND qualifying.user_id IS NULL AS attach_without_base
    FROM dynamics_holders AS holder
    JOIN dynamics_skus AS sku ON sku.sku_id = holder.sku_id
    LEFT JOIN (
        SELECT mine.user_id, mine.sku_id, string_agg(other.sku_part_number, ', ' ORDER BY other.sku_part_number) AS parts
        FROM dynamics_holders AS mine
        JOIN dynamics_holders AS held ON held.user_id = mine.user_id AND held.sku_id <> mine.sku_id
        JOIN dynamics_skus AS other ON other.sku_id = held.sku_id
        WHERE other.role IN ('base', 'attach')
        GROUP BY mine.user_id, mine.sku_id
    ) AS full_licence ON full_licence.user_id = holder.user_id AND full_licence.sku_id = holder.sku_id
    LEFT JOIN (
        SELECT DISTINCT mine.user_id, mine.sku_id
        FROM dynamics_holders AS mine
        JOIN dynamics_skus AS attach ON attach.sku_id = mine.sku_id
        JOIN dynamics_holders AS held ON held.user_id = mine.user_id
        JOIN dynamics_skus AS base ON base.sku_id = held.sku_id
        WHERE position(';' || base.sku_part_number || ';' IN ';' || coalesce(attach.qualifying_bases, '') || ';') > 0
    ) AS qualifying ON qualifying.user_id = holder.user_id AND qualifying.sku_id = holder.sku_id
)
-- kept_base: a base of the same user ranked above this one that qualifies for this one's attach edition; only then
-- does this one become its attach (Sales beside Business Central does not: Business Central is no qualifying base).
SELECT ranked.*, kept.kept_base
FROM ranked
LEFT JOIN (
    SELECT mine.user_id, mine.sku_id, min(other.sku_part_number) AS kept_base
    FROM ranked AS mine
    JOIN sku_roles AS attach ON attach.sku_part_number = mine.attach_sku
    JOIN ranked AS other ON other.user_id = mine.user_id AND other.base_rank < mine.base_rank
    WHERE position(';' || other.sku_part_number || ';' IN ';' || coalesce(attach.qualifying_bases, '') || ';') > 0
    GROUP BY mine.user_id, mine.sku_id
) AS kept ON kept.user_id = ranked.user_id AND kept.sku_id = ranked.sku_id;

-- Every seat judged: the kind of account, the action (remove, downgrade, convert, review) and its reason, or, for a
-- seat left alone, why. The first that applies wins: a disabled account (remove now, grace or not), a leaver, a guest
-- (review with the sponsor), an administrator without use (directory roles: administration needs no seat), an idle
-- seat whose holder only reached the product through another client (review) or not at all (remove), an account seen
-- only in non-interactive sign-ins (an integration: convert it to an application user, which needs no licence), a
-- holder who signed in but never worked (review: a sign-in is a token, not work; with dynamics_activity synced), a
-- second full base (downgrade to its attach), Team Members beside a full licence (remove), an attach without its base
-- (review: compliance), Team Members writing to tables outside its rights (review: right-sizing, the work needs a full
-- licence). The exclusions table keeps a seat off the worklist until its date.
CREATE OR REPLACE TEMP VIEW holder_seats AS
SELECT
    judged.*,
    CASE
        WHEN judged.action IS NULL THEN NULL
        WHEN judged.action = 'downgrade' THEN judged.monthly_price - judged.attach_monthly_price
        ELSE judged.monthly_price
    END AS monthly_amount,
    exclusion.reason AS excluded_because,
    exclusion.owner AS excluded_by,
    exclusion.until AS excluded_until
FROM (
    SELECT
        facts.*,
        CASE
            WHEN NOT facts.account_enabled THEN 'remove'
            WHEN facts.leave_date <= getvariable('as_of') THEN 'remove'
            WHEN facts.guest THEN 'review'
            WHEN facts.idle AND facts.directory_role THEN 'remove'
            WHEN facts.idle AND facts.other_client_in_window THEN 'review'
            WHEN facts.idle THEN 'remove'
            WHEN facts.integration THEN 'convert'
            WHEN facts.signed_in_not_worked THEN 'review'
            WHEN facts.kept_base IS NOT NULL THEN 'downgrade'
            WHEN facts.role = 'team_members' AND facts.full_licences IS NOT NULL THEN 'remove'
            WHEN facts.attach_without_base THEN 'review'
            WHEN facts.writes_outside_team_members > 0 THEN 'review'
        END AS action,
        CASE
            WHEN NOT facts.account_enabled
                THEN 'account disabled (accountEnabled false): nobody can sign in with it; remove the seat now'
            WHEN facts.leave_date <= getvariable('as_of')
                THEN 'a leaver: employeeLeaveDateTime ' || CAST(CAST(facts.leave_date AS DATE) AS VARCHAR) || ' has passed'
            WHEN facts.guest
                THEN 'a guest account (userType Guest): confirm with its sponsor that it needs a Dynamics 365 seat'
            WHEN facts.idle AND facts.directory_role
                THEN 'administrator only: holds a directory role and no ' || facts.families || ' sign-in in '
                    || CAST(facts.days_idle AS VARCHAR) || ' days; administering Dynamics 365 needs no seat'
            WHEN facts.idle AND facts.other_client_in_window
                THEN 'no ' || facts.families || ' sign-in in ' || CAST(facts.days_idle AS VARCHAR) || ' days; only '
                    || facts.other_clients || ', which is no use of the seat'
            WHEN facts.idle
                THEN 'no ' || facts.families
                    || CASE WHEN facts.counts_work THEN ' sign-in or operation' ELSE ' sign-in' END
                    || ' in ' || CAST(facts.days_idle AS VARCHAR) || ' days'
                    || coalesce(' (but signs in to ' || facts.families_used_instead || ')', '')
            WHEN facts.integration
                THEN 'seen only in non-interactive sign-ins: an integration; make it an application user, which '
                    || 'needs no licence'
            WHEN facts.signed_in_not_worked
                THEN 'signed in but never worked: ' || facts.families || ' sign-ins and not one ' || facts.families
                    || ' operation (read or write) in ' || CAST(facts.window_days AS VARCHAR) || ' days; ask the '
                    || 'holder whether the seat is needed'
            WHEN facts.kept_base IS NOT NULL
                THEN 'a second full base licence beside ' || facts.kept_base || ': the licensing guide makes it the '
                    || 'attach licence ' || facts.attach_sku
            WHEN facts.role = 'team_members' AND facts.full_licences IS NOT NULL
                THEN 'Team Members beside the full licence ' || facts.full_licences || ', which includes its rights'
            WHEN facts.attach_without_base
                THEN 'compliance: an attach licence without a qualifying base (one of '
                    || replace(facts.qualifying_bases, ';', ', ') || ')'
            WHEN facts.writes_outside_team_members > 0
                THEN 'right-sizing: Team Members writes to tables outside its rights ('
                    || facts.tables_outside_team_members || ': ' || CAST(facts.writes_outside_team_members AS VARCHAR)
                    || ' of its ' || CAST(facts.dataverse_writes AS VARCHAR)
                    || ' writes; examples/team_members_tables.csv): the work needs a full licence'
            WHEN NOT facts.has_evidence THEN 'not judged: no sign-in records'
            WHEN facts.in_grace THEN 'new seat, in its grace period: licensed '
                || CAST(CAST(facts.licensed_since AS DATE) AS VARCHAR)
            WHEN facts.worked_in_window
                THEN 'in use: ' || facts.families || ' operations within ' || CAST(facts.threshold_days AS VARCHAR)
                    || ' days'
            ELSE 'in use: a ' || facts.families || ' sign-in within ' || CAST(facts.threshold_days AS VARCHAR) || ' days'
        END AS reason,
        CASE
            WHEN NOT facts.account_enabled THEN 'disabled'
            WHEN facts.leave_date <= getvariable('as_of') THEN 'leaver'
            WHEN facts.guest THEN 'guest'
            WHEN facts.directory_role AND facts.idle THEN 'administrator only'
            WHEN facts.integration THEN 'integration'
            ELSE 'member'
        END AS account_kind
    FROM (
        SELECT
            activity.*,
            roles.base_rank,
            roles.kept_base,
            roles.full_licences,
            roles.attach_without_base,
            activity.has_evidence AND NOT activity.in_grace AND NOT activity.used_in_window AS idle,
            activity.has_evidence AND activity.last_non_interactive IS NOT NULL AND activity.last_interactive IS NULL
                AND NOT activity.seen_interactive AS integration
        FROM holder_activity AS activity
        JOIN seat_roles AS roles ON roles.user_id = activity.user_id AND roles.sku_id = activity.sku_id
    ) AS facts
) AS judged
JOIN users AS u ON u.id = judged.user_id
LEFT JOIN exclusions AS exclusion
    ON (exclusion.holder = u.userPrincipalName OR lower(exclusion.holder) = lower(u.id))
    AND coalesce(exclusion.sku_part_number, judged.sku_part_number) = judged.sku_part_number
    AND coalesce(exclusion.until >= CAST(getvariable('as_of') AS DATE), TRUE);

-- The summary: one row per Dynamics 365 seat SKU, the SKUs nobody holds included. holders = used_in_threshold +
-- in_grace + idle. holders falls short of units_assigned when the connector skipped users (concealed names) or the
-- roster is older than the license inventory. worklist: the seats of the SKU the worklist acts on (idle or not).
-- worked_in_threshold and signed_in_not_worked (NULL without Dataverse activity, and for other families): of the
-- holders, who did a Dataverse operation in the window, and who signed in without one (past the grace period).
-- Money needs a price for the SKU; without one it is NULL.
CREATE OR REPLACE TEMP VIEW license_usage AS
SELECT
    sku.sku_part_number,
    sku.product_name,
    sku.role,
    sku.units_bought,
    sku.units_assigned,
    CASE WHEN sku.counts_unassigned THEN greatest(sku.units_bought - sku.units_assigned, 0) END AS units_unassigned,
    CASE
        WHEN sku.role = 'trial' OR sku.trial THEN 'a trial: free units, not seats bought'
        WHEN sku.role = 'device' THEN 'a device licence: for shared devices, not people'
    END AS not_counted_unassigned,
    count(seat.user_id) AS holders,
    sku.threshold_days,
    count(CASE WHEN seat.used_7_days THEN 1 END) AS used_last_7_days,
    count(CASE WHEN seat.used_in_window THEN 1 END) AS used_in_threshold,
    CASE WHEN bool_or(seat.counts_work) THEN count(CASE WHEN seat.worked_in_window THEN 1 END) END
        AS worked_in_threshold,
    CASE WHEN bool_or(seat.counts_work) THEN count(CASE WHEN seat.signed_in_not_worked THEN 1 END) END
        AS signed_in_not_worked,
    count(CASE WHEN seat.in_grace AND NOT seat.used_in_window THEN 1 END) AS in_grace,
    count(CASE WHEN seat.idle THEN 1 END) AS idle,
    count(CASE WHEN seat.idle AND seat.through_groups IS NOT NULL THEN 1 END) AS idle_through_group,
    count(CASE WHEN seat.action IS NOT NULL AND seat.excluded_because IS NULL THEN 1 END) AS worklist,
    sku.renewal_date,
    sku.monthly_price,
    sku.currency,
    count(CASE WHEN seat.idle THEN 1 END) * sku.monthly_price AS idle_monthly_cost,
    CASE WHEN sku.counts_unassigned THEN greatest(sku.units_bought - sku.units_assigned, 0) * sku.monthly_price END
        AS unassigned_monthly_cost
FROM dynamics_skus AS sku
LEFT JOIN holder_seats AS seat ON seat.sku_id = sku.sku_id
WHERE sku.is_seat
GROUP BY sku.sku_part_number, sku.product_name, sku.role, sku.units_bought, sku.units_assigned,
    sku.counts_unassigned, sku.trial, sku.threshold_days, sku.renewal_date, sku.monthly_price, sku.currency
ORDER BY sku.sku_part_number;

-- The worklist: one row per user and SKU to act on, disabled accounts first, then the most money a month, then the
-- idlest. The ids (user_id, sku_id, group_ids: ';'-separated, the groups to take the user out of) are what a script
-- acts on. last_sign_in_any_app is Entra's last successful sign-in (signInActivity), interactive or not, any
-- application, up to 24 hours behind. idle_longer_than_evidence: neither a sign-in to the seat's family nor the
-- seat's assignment falls inside the evidence, so the holder may have been idle longer than days_idle says.
-- last_dataverse_activity, dataverse_reads, dataverse_writes: a Dataverse seat's last operation and its reads and
-- writes in the evidence span (NULL: dynamics_activity not synced, or not a Dataverse seat);
-- writes_outside_team_members and tables_outside_team_members: a Team Members seat's writes outside its rights.
-- monthly_amount: what the action saves a month (a downgrade: the base's price less its attach's); for a review, what
-- it would. saves_from: the renewal date, from which a smaller order costs less (NULL: subscriptions not synced).
CREATE OR REPLACE TEMP VIEW reclaim AS
SELECT
    seat.user_id,
    u.userPrincipalName AS user_principal_name,
    u.displayName AS display_name,
    seat.sku_id,
    sku.sku_part_number,
    sku.product_name,
    seat.group_ids,
    CASE
        WHEN seat.direct AND seat.through_groups IS NOT NULL THEN 'direct and group: ' || seat.through_groups
        WHEN seat.through_groups IS NOT NULL THEN 'group: ' || seat.through_groups
        ELSE 'direct'
    END AS assigned,
    seat.action,
    seat.reason,
    seat.account_kind,
    seat.account_enabled,
    seat.licensed_since,
    seat.last_interactive AS last_dynamics_interactive,
    seat.last_non_interactive AS last_dynamics_non_interactive,
    seat.other_clients,
    seat.last_dataverse_activity,
    seat.dataverse_reads,
    seat.dataverse_writes,
    seat.writes_outside_team_members,
    seat.tables_outside_team_members,
    seat.last_sign_in_any_app,
    seat.idle,
    seat.days_idle,
    seat.idle_longer_than_evidence,
    seat.threshold_days,
    seat.monthly_price,
    seat.monthly_amount,
    seat.monthly_amount * 12 AS annual_amount,
    seat.currency,
    seat.renewal_date AS saves_from
FROM holder_seats AS seat
JOIN users AS u ON u.id = seat.user_id
JOIN dynamics_skus AS sku ON sku.sku_id = seat.sku_id
WHERE seat.action IS NOT NULL AND seat.excluded_because IS NULL
ORDER BY seat.account_enabled, seat.monthly_amount DESC NULLS LAST, seat.days_idle DESC, user_principal_name,
    sku.sku_part_number;

-- The seats the exclusions table keeps off the worklist: what the worklist would have said, and who decided otherwise.
CREATE OR REPLACE TEMP VIEW excluded AS
SELECT
    u.userPrincipalName AS user_principal_name,
    sku.sku_part_number,
    seat.action,
    seat.reason,
    seat.excluded_because,
    seat.excluded_by,
    seat.excluded_until
FROM holder_seats AS seat
JOIN users AS u ON u.id = seat.user_id
JOIN dynamics_skus AS sku ON sku.sku_id = seat.sku_id
WHERE seat.action IS NOT NULL AND seat.excluded_because IS NOT NULL
ORDER BY user_principal_name, sku.sku_part_number;

-- Every holder's seat and what the worklist does with it: its action and reason, or why it is left alone (in use, in
-- its grace period, no sign-in records, excluded): nobody's seat drops out of the answer without a reason.
CREATE OR REPLACE TEMP VIEW seats AS
SELECT
    seat.user_id,
    u.userPrincipalName AS user_principal_name,
    seat.sku_id,
    sku.sku_part_number,
    seat.action IS NOT NULL AND seat.excluded_because IS NULL AS on_worklist,
    seat.action,
    CASE
        WHEN seat.excluded_because IS NOT NULL THEN 'excluded: ' || seat.excluded_because
        ELSE seat.reason
    END AS reason
FROM holder_seats AS seat
JOIN users AS u ON u.id = seat.user_id
JOIN dynamics_skus AS sku ON sku.sku_id = seat.sku_id
ORDER BY user_principal_name, sku.sku_part_number;

-- Dynamics 365 SKUs that apply to the company, not to users: bought, never anybody's seat.
CREATE OR REPLACE TEMP VIEW add_ons AS
SELECT sku_part_number, product_name, units_bought
FROM dynamics_skus
WHERE NOT is_seat
ORDER BY sku_part_number;

-- What idle and unassigned seats cost a month and a year, per currency; no rows without a price list.
CREATE OR REPLACE TEMP VIEW money AS
SELECT
    currency,
    sum(idle_monthly_cost) AS idle_monthly_cost,
    sum(unassigned_monthly_cost) AS unassigned_monthly_cost,
    sum(idle_monthly_cost) * 12 AS idle_annual_cost,
    sum(unassigned_monthly_cost) * 12 AS unassigned_annual_cost
FROM license_usage
WHERE monthly_price IS NOT NULL
GROUP BY currency
ORDER BY currency;

-- What each action of the worklist saves, per currency; seats without a price are counted, not summed.
CREATE OR REPLACE TEMP VIEW money_by_action AS
SELECT
    coalesce(currency, '-') AS currency,
    action,
    count(*) AS seats,
    sum(monthly_amount) AS monthly_amount,
    sum(monthly_amount) * 12 AS annual_amount
FROM reclaim
GROUP BY coalesce(currency, '-'), action
ORDER BY currency, action;
