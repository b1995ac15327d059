-- Dynamics 365 license usage: which Dynamics 365 licenses are assigned to people who do not use Dynamics 365.
--
-- Written for DuckDB; see "Porting" below for a warehouse. `make demo` runs it (tools/license_usage.py).
--
-- Input: the tables an Airbyte sync of source-dynamics365-cc leaves behind, named after its streams, one row per
-- primary key (an append_dedup destination, or PyAirbyte's cache):
--   users                     id, userPrincipalName, displayName, accountEnabled, assignedLicenses,
--                             licenseAssignmentStates, signInActivity
--   subscribed_skus           skuId, skuPartNumber, prepaidUnits, consumedUnits
--   sign_ins                  userId, createdDateTime, appId, resourceId, status
--   non_interactive_sign_ins  the same columns; create it empty when that stream is not synced:
--                             CREATE TABLE non_interactive_sign_ins AS SELECT * FROM sign_ins LIMIT 0;
-- Graph's nested objects and arrays are JSON columns, as in PyAirbyte's DuckDB cache. createdDateTime is a
-- TIMESTAMP WITH TIME ZONE, or a TIMESTAMP holding UTC (PyAirbyte's cache): the UTC session below reads both alike.
-- Identifiers are unquoted: DuckDB matches them case-insensitively, so the same text runs on Graph's camelCase
-- columns and on PyAirbyte's lowercased ones.
--
-- Parameter: as_of, the instant the 7- and 30-day windows end. Use the end of the sync, not the wall clock:
-- a sync read yesterday must not make everybody look a day idler.
--   SET VARIABLE as_of = TIMESTAMPTZ '2026-11-26 12:00:00+00';
--
-- Output: two views.
--   license_usage  one row per Dynamics 365 SKU: units bought and assigned, the holders in the roster, how many
--                  signed in to Dynamics 365 in the last 7 and 30 days, how many did not in 30 days, and how many
--                  of those hold the license through a group.
--   idle_holders   the ten holders idle longest, with the evidence.
--
-- Porting (DuckDB -> Snowflake / BigQuery / PostgreSQL):
--   getvariable('as_of')               a bind parameter (or CURRENT_TIMESTAMP if the data is fresh)
--   json_each(x) AS e ... e.value->>'k'  Snowflake LATERAL FLATTEN(input => x) e ... e.value:k::string;
--                                      BigQuery UNNEST(JSON_QUERY_ARRAY(x)) e ... JSON_VALUE(e, '$.k');
--                                      PostgreSQL jsonb_array_elements(x) e ... e->>'k'
--   x->>'k'                            Snowflake x:k::string; BigQuery JSON_VALUE(x, '$.k'); PostgreSQL x->>'k'
--   starts_with(a, b)                  Snowflake STARTSWITH(a, b); BigQuery STARTS_WITH(a, b); PostgreSQL a LIKE b || '%'
--   ts - INTERVAL 7 DAY                Snowflake DATEADD(day, -7, ts); BigQuery TIMESTAMP_SUB(ts, INTERVAL 7 DAY)
--   epoch(ts)                          Snowflake DATE_PART(epoch_second, ts); BigQuery UNIX_SECONDS(ts)
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

-- The tenant's Dynamics 365 SKUs: part numbers starting DYN365_, DYNAMICS_365_, D365_ or CRM.
-- Bought: prepaidUnits.enabled. Assigned: consumedUnits.
CREATE OR REPLACE TEMP VIEW dynamics_skus AS
SELECT
    skuId AS sku_id,
    skuPartNumber AS sku_part_number,
    CAST(prepaidUnits ->> 'enabled' AS INTEGER) AS units_bought,
    consumedUnits AS units_assigned
FROM subscribed_skus
WHERE starts_with(skuPartNumber, 'DYN365_')
   OR starts_with(skuPartNumber, 'DYNAMICS_365_')
   OR starts_with(skuPartNumber, 'D365_')
   OR starts_with(skuPartNumber, 'CRM');

-- Who holds which Dynamics 365 SKU. assignedLicenses lists the licenses in effect, direct or through a group, the
-- ones consumedUnits counts; an assignment that failed (state Error) is only in licenseAssignmentStates.
CREATE OR REPLACE TEMP VIEW dynamics_holders AS
SELECT DISTINCT
    sku.sku_id,
    sku.sku_part_number,
    u.id AS user_id
FROM users AS u
CROSS JOIN json_each(u.assignedLicenses) AS license
JOIN dynamics_skus AS sku ON sku.sku_id = (license.value ->> 'skuId');

-- Licenses held through a group: an assignment in effect that names the group. The license comes back only when the
-- user leaves the group (or the group loses the license); removing a direct assignment as well frees nothing.
CREATE OR REPLACE TEMP VIEW group_assignments AS
SELECT DISTINCT
    u.id AS user_id,
    (assignment.value ->> 'skuId') AS sku_id
FROM users AS u
CROSS JOIN json_each(u.licenseAssignmentStates) AS assignment
WHERE (assignment.value ->> 'assignedByGroup') IS NOT NULL
  AND (assignment.value ->> 'state') IN ('Active', 'ActiveWithError');

-- Each user's last successful Dynamics 365 sign-in up to as_of, interactive or non-interactive. A failed sign-in
-- (wrong password, blocked by Conditional Access) is not use. Graph does not say which license a sign-in used, so a
-- sign-in to any Dynamics 365 application counts for every Dynamics 365 SKU its user holds.
CREATE OR REPLACE TEMP VIEW last_dynamics_sign_in AS
SELECT
    user_id,
    max(created_at) AS last_sign_in
FROM (
    SELECT userId AS user_id, createdDateTime AS created_at, appId AS app_id, resourceId AS resource_id, status
    FROM sign_ins
    UNION ALL
    SELECT userId, createdDateTime, appId, resourceId, status
    FROM non_interactive_sign_ins
) AS sign_in
WHERE CAST(status ->> 'errorCode' AS INTEGER) = 0
  AND created_at <= getvariable('as_of')
  AND (
      lower(app_id) IN (SELECT app_id FROM dynamics_apps)
      OR lower(resource_id) IN (SELECT app_id FROM dynamics_apps)
  )
GROUP BY user_id;

-- One row per holder and SKU: when they last used Dynamics 365 (NULL: no sign-in in the synced records; Entra keeps
-- 30 days, a warehouse keeps whatever its syncs gathered), and whether a group gives them the license.
CREATE OR REPLACE TEMP VIEW holder_activity AS
SELECT
    holder.sku_id,
    holder.sku_part_number,
    holder.user_id,
    used.last_sign_in,
    grouped.user_id IS NOT NULL AS through_group,
    coalesce(used.last_sign_in >= getvariable('as_of') - INTERVAL 7 DAY, FALSE) AS used_7_days,
    coalesce(used.last_sign_in >= getvariable('as_of') - INTERVAL 30 DAY, FALSE) AS used_30_days
FROM dynamics_holders AS holder
LEFT JOIN last_dynamics_sign_in AS used ON used.user_id = holder.user_id
LEFT JOIN group_assignments AS grouped ON grouped.user_id = holder.user_id AND grouped.sku_id = holder.sku_id;

-- The answer: one row per Dynamics 365 SKU, the SKUs nobody holds included.
-- holders counts the users in the roster; it falls short of units_assigned when the connector skipped users
-- (concealed names) or the roster is older than the license inventory.
CREATE OR REPLACE TEMP VIEW license_usage AS
SELECT
    sku.sku_part_number,
    sku.units_bought,
    sku.units_assigned,
    count(activity.user_id) AS holders,
    count(CASE WHEN activity.used_7_days THEN activity.user_id END) AS used_last_7_days,
    count(CASE WHEN activity.used_30_days THEN activity.user_id END) AS used_last_30_days,
    count(CASE WHEN NOT activity.used_30_days THEN activity.user_id END) AS unused_30_days,
    count(CASE WHEN NOT activity.used_30_days AND activity.through_group THEN activity.user_id END)
        AS unused_through_group
FROM dynamics_skus AS sku
LEFT JOIN holder_activity AS activity ON activity.sku_id = sku.sku_id
GROUP BY sku.sku_part_number, sku.units_bought, sku.units_assigned
ORDER BY sku.sku_part_number;

-- The ten holders idle longest: no Dynamics 365 sign-in in the records first, then the oldest last sign-in. Among those
-- with none, the one whose last interactive sign-in to anything (users.signInActivity, when synced) is oldest comes
-- first: someone active in Outlook every day but never in Dynamics 365 is the clearest case.
CREATE OR REPLACE TEMP VIEW idle_holders AS
SELECT
    u.userPrincipalName AS user_principal_name,
    u.displayName AS display_name,
    u.accountEnabled AS account_enabled,
    idle.skus,
    idle.through_group,
    idle.last_dynamics_sign_in,
    CAST(floor((epoch(getvariable('as_of')) - epoch(idle.last_dynamics_sign_in)) / 86400) AS INTEGER) AS days_idle,
    CAST(u.signInActivity ->> 'lastSignInDateTime' AS TIMESTAMPTZ) AS last_sign_in_any_app
FROM (
    SELECT
        user_id,
        string_agg(sku_part_number, ', ' ORDER BY sku_part_number) AS skus,
        bool_or(through_group) AS through_group,
        max(last_sign_in) AS last_dynamics_sign_in
    FROM holder_activity
    GROUP BY user_id
) AS idle
JOIN users AS u ON u.id = idle.user_id
ORDER BY idle.last_dynamics_sign_in NULLS FIRST, last_sign_in_any_app NULLS FIRST, user_principal_name
LIMIT 10;
