"""Shared fixtures: the catalog, its names, the location of ../shared reference data, and a
configuration-free environment (no ``DSO_SAREF_*`` setting nor user configuration file leaks in)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import dso_saref
from dso_saref.config import CONFIG_ENV, KEYS

if TYPE_CHECKING:  # imported by the tests that ask for a merge only (it loads pyshacl and owlrl)
    from tests.support.merges import Merging

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

NAMES = sorted(dso_saref.catalog)

#: Tests left out of the fast subset (``pytest -m "not slow"``, under a minute on 2 cores): property
#: tests with many examples, exhaustive parametrisations, tests that start servers or processes. Chosen
#: from a full run's ``--durations=0`` (about a second or more per test function, all its parameters
#: together); every test under tests/scenarios/ (end to end over HTTP) is slow too. Marked here rather
#: than in the files so that the list is one place; the tests of the CLI, the configuration and the
#: docs carry ``@pytest.mark.slow`` themselves.
SLOW_TESTS = frozenset({
    "tests/backend/test_aggregation.py::test_sql_aggregation_agrees_with_the_reference",
    "tests/backend/test_clearing_properties.py::test_clearing_does_not_depend_on_the_order_offers_arrived_in",
    "tests/backend/test_clearing_properties.py::test_clearing_is_cheapest_first_and_fills_the_need_when_it_can",
    "tests/backend/test_clearing_properties.py::test_clearing_never_activates_more_than_the_need_nor_the_offer",
    "tests/backend/test_durability.py::test_a_killed_process_keeps_every_acknowledged_offer",
    "tests/backend/test_durability.py::test_kill_9_during_a_stream_of_acknowledged_offers_loses_none",
    "tests/backend/test_hluc11_observability.py::test_hluc11_puc1_abnormal_voltage_is_outside_en_50160_band",
    "tests/ke/test_adapter.py::test_a_slow_peer_is_reported_failed_and_does_not_hide_the_others",
    "tests/ke/test_adapter.py::test_every_exchange_runs_between_two_roles_over_http",
    "tests/ke/test_ke_cli.py::test_emulate_serves_until_a_signal_then_stops_cleanly",
    "tests/ke/test_ke_contract.py::test_client_requests_and_emulator_responses_follow_openapi_1_5_0",
    "tests/ke/test_ke_exchange.py::test_a_silent_peer_is_reported_failed_while_the_other_answers_arrive",
    "tests/ke/test_ke_lifecycle.py::test_bad_knowledge_bases_are_refused_and_nothing_is_stored",
    "tests/ke/test_ke_lifecycle.py::test_patterns_outside_basic_graph_patterns_are_refused",
    "tests/ke/test_standin_http.py::test_deeply_nested_json_gets_400",
    "tests/ke/test_standin_http.py::test_requests_that_are_not_http_get_400_in_ke_format",
    "tests/ke/test_standin_http.py::test_unknown_methods_get_405_in_ke_format_with_allow",
    "tests/ke/test_standin_http.py::test_unknown_paths_get_404_in_ke_format",
    "tests/ke/test_standin_match.py::test_a_renamed_and_shuffled_pattern_matches",
    "tests/ke/test_standin_match.py::test_a_single_changed_triple_does_not_match",
    "tests/ke/test_standin_match.py::test_the_matcher_agrees_with_brute_force",
    "tests/ke/test_standin_shutdown.py::test_a_300_mb_body_does_not_raise_the_peak_memory_of_the_process",
    "tests/ke/test_standin_shutdown.py::test_a_signal_stops_the_process_within_the_bound_despite_open_requests",
    "tests/ke/test_standin_unicode.py::test_an_interaction_with_a_lone_surrogate_is_refused_and_not_stored",
    "tests/ke/test_standin_unicode.py::test_hostile_json_anywhere_gets_a_ke_error_never_a_crash",
    "tests/storage/test_migration_race.py::test_two_processes_migrating_a_new_database_at_once_both_succeed",
    "tests/test_catalog.py::test_example_triples_parse_back_and_match_the_pattern",
    "tests/test_catalog.py::test_hypothesis_round_trip",
    "tests/test_profiles.py::test_example_round_trips_and_conforms_in_the_profile",
    "tests/test_profiles.py::test_hypothesis_round_trip_of_every_profile",
    "tests/test_engines.py::test_engine_and_pyshacl_agree_on_generated_payloads",
    "tests/test_engines.py::test_engine_and_pyshacl_agree_on_graph_mutations",
    "tests/test_engines.py::test_metering_is_validated_by_the_compiled_engine_as_json_text_and_as_n_triples",
    "tests/test_messages_data_sharing.py::test_spec_3_2_1_1_1_3_hypothesis_round_trip_of_parallel_arrays",
    "tests/test_messages_data_sharing.py::test_spec_3_5_hostile_identifiers_make_no_extra_triples",
    "tests/test_messages_elasticity.py::test_spec_3_2_3_3_hostile_user_ids_make_no_extra_triples_and_valid_rdf",
    "tests/test_messages_elasticity.py::test_spec_3_2_3_3_input_general_rules_numeric_strings_integer_ids_spec_timestamps",
    "tests/test_messages_elasticity.py::test_spec_3_2_3_3_input_readings_with_different_signals_do_not_borrow_each_others_measurements",
    "tests/test_messages_elasticity.py::test_spec_3_2_3_3_output_keys_are_written_back_exactly_as_the_spec_spells_them",
    "tests/test_messages_flexibility.py::test_hostile_identifiers_make_no_extra_triples_and_valid_rdf",
    "tests/test_messages_grid_data.py::test_spec_4_2_hostile_identifiers_make_no_extra_triples_and_valid_rdf",
    "tests/test_messages_observability.py::test_examples_round_trip_through_serialised_graphs",
    "tests/test_messages_observability.py::test_hostile_identifiers_and_texts_make_no_extra_triples",
    "tests/test_ontologies.py::test_every_external_term_exists_in_the_official_files",
    "tests/test_ontologies.py::test_every_used_non_project_iri_exists_in_the_official_files",
    "tests/test_public_api.py::test_hostile_bindings_give_payload_errors",
    "tests/test_public_api.py::test_hostile_payloads_give_payload_errors_never_tracebacks",
    "tests/test_public_api.py::test_import_is_lazy_no_pyshacl_until_a_pyshacl_validation",
    "tests/test_public_api.py::test_installed_wheel_works_from_any_directory",
    "tests/test_public_api.py::test_validate_engines_agree_on_every_example_and_unknown_engine_is_refused",
    "tests/test_modelling.py::test_all_examples_merged_conform_and_are_consistent",
    "tests/test_modelling.py::test_generated_payloads_merged_with_the_examples_conform_and_are_consistent",
    "tests/test_modelling.py::test_the_proof_can_fail",
    "tests/test_shapes_table.py::test_every_constraint_broken_once_is_refused",
    "tests/test_terms.py::test_minted_iris_are_safe_and_reversible_for_any_string",
    "tests/test_validation.py::test_arbitrary_json_always_gives_a_report",
    "tests/test_validation.py::test_mutations_of_valid_payloads_give_reports_and_the_layers_agree",
    "tests/test_validation.py::test_rdfs_inference_option_validates_the_examples",
    "tests/test_validation.py::test_targets_only_hit_their_own_message_s_nodes",
    "tests/test_validation.py::test_valid_payloads_conform_to_both_layers",
    "tests/backend/test_clearing_properties.py::test_a_bad_bid_is_refused_alone_and_never_fails_the_clearing",
    "tests/ke/test_adapter_pool.py::test_handlers_run_together_while_the_long_poll_keeps_being_served",
    "tests/ke/test_adapter_pool.py::test_no_answer_is_lost_duplicated_or_given_to_another_request",
    "tests/ke/test_adapter_pool.py::test_no_more_than_workers_plus_backlog_requests_are_taken_from_the_ke",
    "tests/ke/test_adapter_registration.py::test_a_ke_restart_is_survived_without_restarting_the_loop",
    "tests/ke/test_adapter_registration.py::test_a_restart_after_a_crash_waits_out_the_dead_poll_and_takes_over",
    "tests/ke/test_adapter_registration.py::test_a_second_instance_with_a_live_id_refuses_and_leaves_the_first_alone",
    "tests/ke/test_adapter_registration.py::test_a_stale_registration_is_replaced_with_a_warning",
    "tests/ke/test_adapter_registration.py::test_liveness_of_a_free_and_a_live_id",
    "tests/ke/test_adapter_registration.py::test_serve_refuses_to_start_on_a_live_id_and_survives_a_spoofed_delete",
    "tests/ke/test_adapter_registration.py::test_the_refused_instance_does_not_unregister_the_first_when_it_closes",
    "tests/ke/test_ke_match.py::test_a_missing_file_is_exit_2_and_the_worst_verdict_wins",
    "tests/ke/test_ke_match.py::test_a_misspelt_unit_is_the_different_term_and_the_declared_one_is_suggested",
    "tests/ke/test_ke_match.py::test_hostile_input_never_gives_a_traceback",
    "tests/ke/test_ke_match.py::test_pilot_dialect_near_misses_are_diagnosed",
    "tests/ke/test_profiles_ke.py::test_the_pilot_posts_offers_in_its_dialect_and_our_dso_reads_them",
    "tests/ke/test_real_ke.py::test_a_silent_peer_is_reported_failed_after_the_engines_wait_not_a_hang",
    "tests/portal/test_browser.py::test_a_portal_message_page_renders_its_example_and_pattern",
    "tests/portal/test_browser.py::test_swagger_ui_authorised_call_returns_data",
    "tests/rest/test_demo_channels.py::test_all_seven_use_cases_pass",
    "tests/rest/test_demo_channels.py::test_the_demo_command_over_rest",
    "tests/rest/test_schemathesis.py::test_api",
    "tests/test_messages_data_sharing.py::test_data_sharing_examples_and_generated_payloads_merged_conform_and_are_consistent",
    "tests/test_messages_data_sharing.py::test_no_class_is_used_as_a_value",
    "tests/test_messages_data_sharing.py::test_two_messages_that_differ_never_share_their_node",
    "tests/test_messages_elasticity.py::test_issue_10_4_two_payloads_about_one_user_merge_into_a_valid_graph",
    "tests/test_messages_elasticity.py::test_issue_10_merged_elasticity_graphs_conform_to_the_shapes_and_their_owl_rl_closure_is_consistent",
    "tests/test_messages_flexibility.py::test_flexibility_examples_and_generated_payloads_merged_conform_and_are_consistent",
    "tests/test_messages_grid_data.py::test_issue_10_7_a_reasoner_refuses_a_client_said_lv_and_mv_and_infers_each_level_from_the_topology",
    "tests/test_messages_grid_data.py::test_issue_10_merged_grid_graphs_conform_to_the_shapes_and_their_owl_rl_closure_is_consistent",
    "tests/test_messages_observability_modelling.py::test_examples_and_collisions_merged_conform_and_are_owl_rl_consistent",
    "tests/test_messages_observability_modelling.py::test_generated_pairs_merged_with_the_examples_conform_and_are_owl_rl_consistent",
    "tests/test_messages_observability_modelling.py::test_round_trips_and_naive_instantiation_of_generated_payloads",
    "tests/test_messages_observability_modelling.py::test_the_proof_catches_contradictions",
    "tests/test_messages_observability_modelling.py::test_two_different_payloads_share_no_message_level_node_that_they_describe_differently",
    "tests/test_ontologies.py::test_no_project_term_shadows_an_official_one",
    "tests/test_profiles.py::test_a_misnamed_user_profile_is_refused",
    "tests/test_profiles.py::test_a_user_profile_folder_loads_round_trips_and_validates",
    "tests/test_profiles.py::test_every_official_iri_of_the_profiles_exists_in_the_official_files",
})


def shared_path(*parts: str) -> Path:
    """A path under ../shared, or skip the test with a clear reason when the clone has none."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data {path} is absent (only CI and developers have ../shared)")
    return path


#: The Knowledge Engine REST URL the ``real_ke`` tests run against, read before the session hides the
#: developer's ``DSO_SAREF_*`` variables (docs/ke.md, "Running against the real Knowledge Engine").
REAL_KE_URL = os.environ.get("DSO_SAREF_KE_URL") or None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark :data:`SLOW_TESTS` and the end-to-end scenarios ``slow``; skip ``real_ke`` tests without
    ``DSO_SAREF_KE_URL``."""
    no_engine = pytest.mark.skip(reason="real_ke: set DSO_SAREF_KE_URL to a Knowledge Engine REST URL (docs/ke.md)")
    for item in items:
        if REAL_KE_URL is None and item.get_closest_marker("real_ke") is not None:
            item.add_marker(no_engine)
        name = item.nodeid.split("[", 1)[0]
        if name in SLOW_TESTS or name.startswith("tests/scenarios/"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True, scope="session")
def _no_user_configuration(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test (and every process it starts) sees the defaults: the developer's ``DSO_SAREF_*``
    variables and ``~/.config/dso-saref/config.toml`` are hidden (``DSO_SAREF_TEST_PG`` is kept)."""
    with pytest.MonkeyPatch.context() as patch:
        for name in (CONFIG_ENV, *(key.env for key in KEYS)):
            if name in os.environ:
                patch.delenv(name)
        patch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))
        yield


@pytest.fixture(scope="session")
def merging() -> Merging:
    """The class shapes and the official ontologies a merged graph is checked against (skips without
    ../shared); loaded once per session."""
    from tests.support.merges import Merging

    return Merging.load()
