-- Dynamics 365 license usage: which Dynamics 365 seats are held by people who do not use Dynamics 365, what they cost,
-- and which seats nobody holds. A license manager's worklist, with the evidence for each row.
--
-- Written for DuckDB; see "Porting" below for a warehouse. `make demo` runs it (tools/license_usage.py).
--
-- Input: the tables an Airbyte sync of source-dynamics365-cc leaves behind, named after its streams, one row per
-- primary key (an append_dedup destination, or PyAirbyte's cache):
--   users                     id, userPrincipalName, displayName, accountEnabled, assignedLicenses, assignedPlans,
--                             licenseAssignmentStates, signInActivity
--   subscribed_skus           skuId, skuPartNumber, appliesTo, prepaidUnits, consumedUnits, servicePlans,
--                             productDisplayName, isDynamics365: the connector's classification of each SKU (from
--                             Microsoft's licence table it ships), the same that chose whose licenses the users and
--                             groups streams read; a table synced by 0.3.0 or earlier lacks the two columns: sync
--                             subscribed_skus again
--   sign_ins                  userId, createdDateTime, appId, resourceId, status
--   non_interactive_sign_ins  the same columns; create it empty when that stream is not synced:
--                             CREATE TABLE non_interactive_sign_ins AS SELECT * FROM sign_ins LIMIT 0;
--   groups                    id, displayName: the groups that assign Dynamics 365 licenses; create it empty when
--                             that stream is not synced (the app lacks GroupMember.Read.All), and the reclaim list
--                             shows a group's id instead of its name:
--                             CREATE TABLE groups (id VARCHAR, displayName VARCHAR);
-- and two small tables of your own (each may be empty, neither may be missing):
--   sku_prices                sku_part_number, monthly_price, currency: your price per seat and month; empty, the
--                             answer shows no money
--   sku_thresholds            sku_part_number, threshold_days: days without use after which a seat is reclaimable;
--                             a SKU not listed uses 30
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
-- Output: five views.
--   evidence       one row: where the sign-in evidence starts and how many days it covers.
--   license_usage  one row per Dynamics 365 seat SKU (appliesTo "User"): product, units bought, assigned and
--                  unassigned, holders, the SKU's threshold, who used it in 7 days and in the threshold, who is
--                  still in the grace period of a new assignment, who is idle (and of those, through a group), and
--                  with a price list what the idle and unassigned seats cost a month.
--   reclaim        every idle holder, one row per user and SKU, with the evidence.
--   add_ons        Dynamics 365 SKUs that are no one's seat (appliesTo "Company": storage, capacity).
--   money          per currency: the monthly cost of idle and of unassigned seats (no rows without a price list).
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
--   bool_or(x)                         Snowflake BOOLOR_AGG(x); BigQuery LOGICAL_OR(x)
--   SET TimeZone = 'UTC'               Snowflake ALTER SESSION SET TIMEZONE = 'UTC'; PostgreSQL SET TIME ZONE 'UTC'
--   CREATE TEMP VIEW                   CREATE VIEW, or one dbt model per view

-- DuckDB's ->> binds more loosely than = and IS: keep each JSON path in parentheses.
-- UTC: DuckDB counts calendar days of a TIMESTAMPTZ, and reads a TIMESTAMP as a TIMESTAMPTZ, in the session time zone.
SET TimeZone = 'UTC';

-- The Dynamics 365 applications. A sign-in names one in appId (the client) or in resourceId (what it signs in to:
-- the Outlook app for Dynamics or a custom client reaching Dataverse names Dataverse only there). sign_ins holds only
-- the connector's sign_in_app_ids (these four by default); the list keeps the answer right when a connection reads
-- every application. Add your own Dynamics clients here if you added them there.
CREATE OR REPLACE TEMP VIEW dynamics_apps AS
SELECT *
FROM (
    VALUES
        ('00000007-0000-0000-c000-000000000000', 'Dataverse / Dynamics CRM Online'),
        ('996def3d-b36c-4153-8607-a6fd3c01b89f', 'Dynamics 365 Business Central'),
        ('00000015-0000-0000-c000-000000000000', 'Microsoft Dynamics ERP (Finance and Operations)'),
        ('637fcc9f-4a9b-4aaa-8713-a2a3cfda1505', 'Dynamics CRM Online Administration')
) AS app (app_id, app_name);

-- The tenant's Dynamics 365 SKUs, as the connector classified them (isDynamics365): by Microsoft's product name in its
-- licence table, with a fallback for SKUs newer than the table, never by a part-number rule of this file's own, so
-- the answer counts the SKUs whose holders the connector read. Bought: prepaidUnits.enabled. Assigned: consumedUnits.
-- A seat is a SKU that applies to users; "Company" SKUs (storage, capacity) are the tenant's and nobody's to reclaim.
-- The product name is Microsoft's (productDisplayName), or the part number for a SKU newer than the table.
CREATE OR REPLACE TEMP VIEW dynamics_skus AS
SELECT
    sku.skuId AS sku_id,
    sku.skuPartNumber AS sku_part_number,
    coalesce(sku.productDisplayName, sku.skuPartNumber) AS product_name,
    coalesce(sku.appliesTo, 'User') = 'User' AS is_seat,
    CAST(sku.prepaidUnits ->> 'enabled' AS INTEGER) AS units_bought,
    sku.consumedUnits AS units_assigned,
    coalesce(threshold.threshold_days, 30) AS threshold_days,
    price.monthly_price,
    price.currency,
    sku.servicePlans AS service_plans
FROM subscribed_skus AS sku
LEFT JOIN sku_thresholds AS threshold ON threshold.sku_part_number = sku.skuPartNumber
LEFT JOIN sku_prices AS price ON price.sku_part_number = sku.skuPartNumber
WHERE sku.isDynamics365;

-- Every Dynamics 365 sign-in up to as_of, interactive or not. A failed sign-in (wrong password, blocked by
-- Conditional Access) is not use. Graph does not say which license a sign-in used, so a sign-in to any Dynamics 365
-- application counts for every Dynamics 365 SKU its user holds.
CREATE OR REPLACE TEMP VIEW dynamics_sign_ins AS
SELECT user_id, created_at, interactive
FROM (
    SELECT userId AS user_id, createdDateTime AS created_at, appId AS app_id, resourceId AS resource_id, status,
           TRUE AS interactive
    FROM sign_ins
    UNION ALL
    SELECT userId, createdDateTime, appId, resourceId, status, FALSE
    FROM non_interactive_sign_ins
) AS sign_in
WHERE CAST(status ->> 'errorCode' AS INTEGER) = 0
  AND created_at <= getvariable('as_of')
  AND (
      lower(app_id) IN (SELECT app_id FROM dynamics_apps)
      OR lower(resource_id) IN (SELECT app_id FROM dynamics_apps)
  );

-- What the sign-in evidence covers: from evidence_start (or the earliest sign-in record of any application) to as_of.
-- "No sign-in in 30 days" is only true if the records cover 30 days: after a first sync from 10 days back they cover
-- 10, and nobody is called idle for longer than that. No records at all: no evidence, nobody idle.
CREATE OR REPLACE TEMP VIEW evidence AS
SELECT
    start_at AS evidence_start,
    CAST(floor((epoch(getvariable('as_of')) - epoch(start_at)) / 86400) AS INTEGER) AS evidence_days
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

-- How each holder got the seat: directly, and through which groups. An assignment in effect (Active or
-- ActiveWithError) that names a group cannot be taken back from the user alone: remove the user from the group (or the
-- license from the group). A seat held both ways frees nothing until both are gone.
CREATE OR REPLACE TEMP VIEW seat_routes AS
SELECT
    u.id AS user_id,
    (assignment.value ->> 'skuId') AS sku_id,
    bool_or((assignment.value ->> 'assignedByGroup') IS NULL) AS direct,
    string_agg(
        DISTINCT coalesce(g.displayName, (assignment.value ->> 'assignedByGroup')), ', '
        ORDER BY coalesce(g.displayName, (assignment.value ->> 'assignedByGroup'))
    ) AS through_groups
FROM users AS u
CROSS JOIN json_each(u.licenseAssignmentStates) AS assignment
LEFT JOIN groups AS g ON g.id = (assignment.value ->> 'assignedByGroup')
WHERE (assignment.value ->> 'state') IN ('Active', 'ActiveWithError')
GROUP BY u.id, (assignment.value ->> 'skuId');

-- When each holder got the seat: assignedPlans.assignedDateTime of the SKU's service plans. Each plan counts from its
-- first assignment; the seat from its newest plan, because a plan the SKU shares with an older license (Dataverse, Power
-- Apps) was there before the seat was.
CREATE OR REPLACE TEMP VIEW licensed_since AS
SELECT user_id, sku_id, max(first_assigned) AS licensed_since
FROM (
    SELECT
        u.id AS user_id,
        sku.sku_id,
        min(CAST((assigned.value ->> 'assignedDateTime') AS TIMESTAMPTZ)) AS first_assigned
    FROM users AS u
    CROSS JOIN json_each(u.assignedPlans) AS assigned
    JOIN dynamics_skus AS sku ON sku.is_seat
    CROSS JOIN json_each(sku.service_plans) AS sku_plan
    WHERE (assigned.value ->> 'servicePlanId') = (sku_plan.value ->> 'servicePlanId')
      AND (assigned.value ->> 'capabilityStatus') = 'Enabled'
    GROUP BY u.id, sku.sku_id, (assigned.value ->> 'servicePlanId')
) AS plan
GROUP BY user_id, sku_id;

-- One row per holder and seat, with the evidence. The window a holder is judged on runs from as_of minus the SKU's
-- threshold, or from the start of the evidence if that is later. A seat assigned within the threshold is in its grace
-- period: not idle, whatever its sign-ins. days_idle counts from the last Dynamics 365 sign-in, the seat's assignment
-- or the start of the evidence, whichever is latest, so it never claims more than the records show.
CREATE OR REPLACE TEMP VIEW holder_activity AS
SELECT
    holder.sku_id,
    holder.user_id,
    sku.threshold_days,
    since.licensed_since,
    last_used.last_interactive,
    last_used.last_non_interactive,
    last_used.last_sign_in,
    coalesce(route.direct, FALSE) AS direct,
    route.through_groups,
    coalesce(last_used.last_sign_in >= getvariable('as_of') - INTERVAL 7 DAY, FALSE) AS used_7_days,
    coalesce(last_used.last_sign_in >= judged.window_start, FALSE) AS used_in_window,
    coalesce(since.licensed_since > getvariable('as_of') - to_days(sku.threshold_days), FALSE) AS in_grace,
    judged.window_start < getvariable('as_of') AS has_evidence,
    CAST(floor((epoch(getvariable('as_of')) - epoch(greatest(
        coalesce(last_used.last_sign_in, evidence.evidence_start),
        coalesce(since.licensed_since, evidence.evidence_start),
        evidence.evidence_start
    ))) / 86400) AS INTEGER) AS days_idle,
    coalesce(last_used.last_sign_in < evidence.evidence_start, TRUE)
        AND coalesce(since.licensed_since < evidence.evidence_start, TRUE) AS idle_longer_than_evidence
FROM dynamics_holders AS holder
JOIN dynamics_skus AS sku ON sku.sku_id = holder.sku_id
CROSS JOIN evidence
CROSS JOIN LATERAL (
    SELECT greatest(getvariable('as_of') - to_days(sku.threshold_days), evidence.evidence_start) AS window_start
) AS judged
LEFT JOIN (
    SELECT
        user_id,
        max(CASE WHEN interactive THEN created_at END) AS last_interactive,
        max(CASE WHEN NOT interactive THEN created_at END) AS last_non_interactive,
        max(created_at) AS last_sign_in
    FROM dynamics_sign_ins
    GROUP BY user_id
) AS last_used ON last_used.user_id = holder.user_id
LEFT JOIN licensed_since AS since ON since.user_id = holder.user_id AND since.sku_id = holder.sku_id
LEFT JOIN seat_routes AS route ON route.user_id = holder.user_id AND route.sku_id = holder.sku_id;

-- Idle: past the grace period, with evidence, and no Dynamics 365 sign-in in the window.
CREATE OR REPLACE TEMP VIEW idle_seats AS
SELECT *
FROM holder_activity
WHERE has_evidence AND NOT in_grace AND NOT used_in_window;

-- The summary: one row per Dynamics 365 seat SKU, the SKUs nobody holds included. holders = used_in_threshold +
-- in_grace + idle. holders falls short of units_assigned when the connector skipped users (concealed names) or the
-- roster is older than the license inventory. Money needs a price for the SKU; without one it is NULL.
CREATE OR REPLACE TEMP VIEW license_usage AS
SELECT
    sku.sku_part_number,
    sku.product_name,
    sku.units_bought,
    sku.units_assigned,
    greatest(sku.units_bought - sku.units_assigned, 0) AS units_unassigned,
    count(activity.user_id) AS holders,
    sku.threshold_days,
    count(CASE WHEN activity.used_7_days THEN 1 END) AS used_last_7_days,
    count(CASE WHEN activity.used_in_window THEN 1 END) AS used_in_threshold,
    count(CASE WHEN activity.in_grace AND NOT activity.used_in_window THEN 1 END) AS in_grace,
    count(idle.user_id) AS idle,
    count(CASE WHEN idle.through_groups IS NOT NULL THEN 1 END) AS idle_through_group,
    sku.monthly_price,
    sku.currency,
    count(idle.user_id) * sku.monthly_price AS idle_monthly_cost,
    greatest(sku.units_bought - sku.units_assigned, 0) * sku.monthly_price AS unassigned_monthly_cost
FROM dynamics_skus AS sku
LEFT JOIN holder_activity AS activity ON activity.sku_id = sku.sku_id
LEFT JOIN idle_seats AS idle ON idle.sku_id = activity.sku_id AND idle.user_id = activity.user_id
WHERE sku.is_seat
GROUP BY sku.sku_part_number, sku.product_name, sku.units_bought, sku.units_assigned, sku.threshold_days,
    sku.monthly_price, sku.currency
ORDER BY sku.sku_part_number;

-- The worklist: every idle seat, one row per user and SKU, idlest first. last_sign_in_any_app is Entra's
-- signInActivity (interactive or not, any application), which lags real sign-ins by up to 24 hours: it can be older
-- than a Dynamics 365 sign-in of the last day. idle_longer_than_evidence: neither a Dynamics 365 sign-in nor the seat's
-- assignment falls inside the evidence, so the holder may have been idle longer than days_idle says.
CREATE OR REPLACE TEMP VIEW reclaim AS
SELECT
    u.userPrincipalName AS user_principal_name,
    u.displayName AS display_name,
    sku.sku_part_number,
    sku.product_name,
    CASE
        WHEN idle.direct AND idle.through_groups IS NOT NULL THEN 'direct and group: ' || idle.through_groups
        WHEN idle.through_groups IS NOT NULL THEN 'group: ' || idle.through_groups
        ELSE 'direct'
    END AS assigned,
    u.accountEnabled AS account_enabled,
    idle.licensed_since,
    idle.last_interactive AS last_dynamics_interactive,
    idle.last_non_interactive AS last_dynamics_non_interactive,
    nullif(greatest(
        coalesce(CAST(u.signInActivity ->> 'lastSignInDateTime' AS TIMESTAMPTZ), TIMESTAMPTZ '0001-01-01 00:00:00+00'),
        coalesce(
            CAST(u.signInActivity ->> 'lastNonInteractiveSignInDateTime' AS TIMESTAMPTZ),
            TIMESTAMPTZ '0001-01-01 00:00:00+00'
        )
    ), TIMESTAMPTZ '0001-01-01 00:00:00+00') AS last_sign_in_any_app,
    idle.days_idle,
    idle.idle_longer_than_evidence,
    idle.threshold_days,
    sku.monthly_price,
    sku.currency
FROM idle_seats AS idle
JOIN users AS u ON u.id = idle.user_id
JOIN dynamics_skus AS sku ON sku.sku_id = idle.sku_id
ORDER BY idle.days_idle DESC, user_principal_name, sku.sku_part_number;

-- Dynamics 365 SKUs that apply to the company, not to users: bought, never anybody's seat.
CREATE OR REPLACE TEMP VIEW add_ons AS
SELECT sku_part_number, product_name, units_bought
FROM dynamics_skus
WHERE NOT is_seat
ORDER BY sku_part_number;

-- What idle and unassigned seats cost a month, per currency; no rows without a price list.
CREATE OR REPLACE TEMP VIEW money AS
SELECT
    currency,
    sum(idle_monthly_cost) AS idle_monthly_cost,
    sum(unassigned_monthly_cost) AS unassigned_monthly_cost
FROM license_usage
WHERE monthly_price IS NOT NULL
GROUP BY currency
ORDER BY currency;
