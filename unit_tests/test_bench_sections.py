"""bench/RESULTS.md sections that one scenario rewrites alone (`python -m bench.roster`, `python -m bench.activity`)."""

from bench.activity import SignInCost, first_poll_after, sign_in_cost
from bench.sections import with_section

RESULTS = """# Benchmark results

## 2. CPU-bound

| sync | records | wall s | records/s | CPU s | CPU us/record | vs baseline (records/s) |
|---|---|---|---|---|---|---|
| connector | 959,112 | 142.3 | 6,740 | 77.3 | 80.6 | 0.82 |
| baseline | 959,112 | 117.2 | 8,186 | 51.6 | 53.8 | 1.00 |

## 6. Roster

old roster

## What limits each number

- notes
"""


def test_a_section_results_md_holds_is_replaced_in_place_and_the_others_kept():
    text = with_section(RESULTS, "## 6. Roster\n\nnew roster\n")

    assert "old roster" not in text
    assert text.index("## 2. CPU-bound") < text.index("new roster") < text.index("## What limits each number")
    assert text.count("## 6. Roster") == 1
    assert "\n\nnew roster\n\n## What limits each number\n\n- notes\n" in text


def test_a_new_section_goes_before_the_closing_notes_after_the_sections_added_before_it():
    text = with_section(RESULTS, "## 7. Dynamics 365 activity\n\nactivity\n")
    again = with_section(text, "## 7. Dynamics 365 activity\n\nactivity, measured again\n")

    assert text.index("old roster") < text.index("\nactivity\n") < text.index("## What limits each number")
    assert again.count("## 7. Dynamics 365 activity") == 1
    assert "activity, measured again\n\n## What limits each number" in again


def test_a_section_is_added_at_the_end_of_a_file_without_closing_notes():
    assert with_section("# Benchmark results\n", "## 7. X\n\nx\n") == "# Benchmark results\n\n## 7. X\n\nx\n"


def test_the_sign_in_streams_cost_is_read_from_the_connector_row_of_section_2():
    assert sign_in_cost(RESULTS) == SignInCost("6,740", "80.6")
    assert sign_in_cost("# Benchmark results\n") == SignInCost("n/a", "n/a")


def test_a_query_is_found_done_by_the_first_poll_of_the_schedule_after_its_latency():
    assert first_poll_after(0.0) == 0.0
    assert first_poll_after(120.0) == 130.0  # polls at 0, 10, 30, 70, 130 s
    assert first_poll_after(600.0) == 610.0  # then every 60 s
