"""What `users` and `groups` share: the compact set of the ids a stream emitted in a sync, what a license query
asks for, and which SKUs are Dynamics 365."""

import tracemalloc
import uuid

from source_dynamics365_cc.streams.licenses import LicenseQuery, dynamics_skus
from source_dynamics365_cc.streams.restarts import MERGE_EVERY, EmittedIds, object_key

SALES, SERVICE = "1e1a282c-9c54-43a2-9310-98ef728faace", "749742bf-0d37-4158-a120-33567104deeb"
ATTACH = "1d506c23-1702-46f1-b940-160c55f98d05"  # Dynamics_365_Business_Central_Essentials_Attach


def test_emitted_ids_find_every_id_across_merges_and_keep_16_bytes_each():
    ids = [str(uuid.uuid4()) for _ in range(3 * MERGE_EVERY + 7)] + ["u1", "not a guid"]
    emitted = EmittedIds()
    assert all(emitted.add(object_id) for object_id in ids)
    assert not any(emitted.add(object_id) for object_id in reversed(ids)), "each found, merged or recent"
    assert not emitted.add(ids[5].upper()), "Graph's GUIDs in any case are one object"
    assert len(emitted) == len(ids)
    held = emitted._high.buffer_info()[1] * 8 + emitted._low.buffer_info()[1] * 8
    assert held == 16 * 3 * MERGE_EVERY and len(emitted._recent) == len(ids) - 3 * MERGE_EVERY
    run = [(high, low) for high, low in zip(emitted._high, emitted._low)]
    assert run == sorted(run) and len(set(run)) == len(run)


def traced_peaks(count: int) -> tuple[int, int, int]:
    """(held, peak while adding, peak while looking each id up again) of an `EmittedIds` of `count` new ids, bytes."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        emitted = EmittedIds()
        assert all(emitted.add(object_id) for object_id in ids)
        held, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        assert not any(emitted.add(object_id) for object_id in ids)
        again = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return held - base, peak - base, again - base


def test_emitted_ids_grow_by_16_bytes_an_id_and_a_second_pass_as_a_restart_reads_costs_nothing():
    small, large = traced_peaks(2 * MERGE_EVERY), traced_peaks(6 * MERGE_EVERY)
    ids = 4 * MERGE_EVERY
    assert (large[0] - small[0]) / ids < 17.5 and (large[1] - small[1]) / ids < 17.5
    assert large[2] - large[0] < 64 * 1024, "looking every id up again allocates nothing that grows with them"


def test_an_id_that_is_no_guid_still_takes_16_bytes():
    assert 0 <= object_key("u1") < 1 << 128 and object_key("u1") != object_key("u2")
    assert object_key("6FD2C87F-B296-42F0-B197-1E91E994B900") == uuid.UUID("6fd2c87f-b296-42f0-b197-1e91e994b900").int


def test_a_license_query_matches_the_holders_of_its_sku_whatever_else_they_hold():
    both = {"id": "u", "assignedLicenses": [{"skuId": SALES}, {"skuId": SERVICE.upper()}]}
    first, second = LicenseQuery(SALES), LicenseQuery(SERVICE)
    assert first.matches(both) and second.matches(both), "which query emits it is the stream's first sighting"
    assert not first.matches({"id": "x", "assignedLicenses": [{"skuId": SERVICE}]}), "Graph sent a non-holder"
    assert not first.matches({"id": "x"}), "a record without assignedLicenses holds nothing"
    assert LicenseQuery().matches({"id": "x"}), "an unfiltered query asks for everyone"


def test_dynamics_skus_are_microsofts_dynamics_365_seats_in_any_case_and_skip_tenant_wide_add_ons():
    skus = [
        {"skuId": SALES, "skuPartNumber": "DYN365_ENTERPRISE_SALES", "appliesTo": "User"},
        {"skuId": ATTACH.upper(), "skuPartNumber": "Dynamics_365_Business_Central_Essentials_Attach"},
        {"skuId": "a", "skuPartNumber": "CRMSTORAGE", "appliesTo": "Company"},
        {"skuId": "b", "skuPartNumber": "ENTERPRISEPACK", "appliesTo": "User"},
        {"skuId": "c", "skuPartNumber": "d365_field_service_newer_than_the_table"},
    ]
    assert dynamics_skus(skus) == [SALES, ATTACH, "c"]
