"""What `users` and `groups` share: the compact ids a restarted query needs, which license query emits an object
holding several SKUs, and which SKUs are Dynamics 365."""

import sys
import uuid

from source_dynamics365_cc.streams.licenses import LicenseQuery, dynamics_skus, license_queries
from source_dynamics365_cc.streams.restarts import EmittedIds, object_key

SALES, SERVICE = "1e1a282c-9c54-43a2-9310-98ef728faace", "749742bf-0d37-4158-a120-33567104deeb"
ATTACH = "1d506c23-1702-46f1-b940-160c55f98d05"  # Dynamics_365_Business_Central_Essentials_Attach


def test_a_query_keeps_16_bytes_per_emitted_object_and_finds_them_after_a_restart():
    ids = [str(uuid.uuid4()) for _ in range(20_000)]
    emitted = EmittedIds()
    assert all(emitted.add(object_key(user_id)) for user_id in ids)
    emitted.restart()
    assert sys.getsizeof(emitted._sorted) < 16 * len(ids) + 100
    assert not any(emitted.add(object_key(user_id)) for user_id in ids)
    later = str(uuid.uuid4())
    assert emitted.add(object_key(later)) and len(emitted) == len(ids) + 1
    emitted.restart()
    assert not emitted.add(object_key(later))


def test_an_id_that_is_no_guid_still_takes_16_bytes():
    assert len(object_key("u1")) == 16 and object_key("u1") != object_key("u2")
    assert object_key("6FD2C87F-B296-42F0-B197-1E91E994B900") == uuid.UUID("6fd2c87f-b296-42f0-b197-1e91e994b900").bytes


def test_an_object_holding_two_skus_is_emitted_by_the_first_skus_query_only():
    both = {"id": "u", "assignedLicenses": [{"skuId": SALES}, {"skuId": SERVICE.upper()}]}
    first, second = license_queries([SALES, SERVICE])
    assert first == LicenseQuery(SALES) and second == LicenseQuery(SERVICE, frozenset({SALES}))
    assert first.emits(both) and not second.emits(both)
    assert not first.emits({"id": "x", "assignedLicenses": [{"skuId": SERVICE}]}), "Graph sent a non-holder"
    assert LicenseQuery().emits({"id": "x"}), "an unfiltered query emits everyone"


def test_dynamics_skus_are_microsofts_dynamics_365_seats_in_any_case_and_skip_tenant_wide_add_ons():
    skus = [
        {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
        {"skuId": ATTACH.upper(), "skuPartNumber": "Dynamics_365_Business_Central_Essentials_Attach"},
        {"skuId": "a", "skuPartNumber": "CRMSTORAGE", "appliesTo": "Company"},
        {"skuId": "b", "skuPartNumber": "ENTERPRISEPACK", "appliesTo": "User"},
        {"skuId": "c", "skuPartNumber": "d365_field_service_newer_than_the_table"},
    ]
    assert dynamics_skus(skus) == [SALES, ATTACH, "c"]
