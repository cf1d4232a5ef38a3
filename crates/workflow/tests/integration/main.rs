//! The workflow crate's integration tests: one store suite run against SQLite and against
//! PostgreSQL (when `TACT_TEST_DATABASE_URL` is set), including webhook delivery to a real
//! HTTP receiver on a free loopback port, and the drafting queue with its workers.

mod append_only;
mod cases;
mod delivery;
mod drafting;
mod listings;
mod receiver;
mod support;

/// Each case runs once per backend: `sqlite::<case>` and `postgres::<case>`.
macro_rules! store_suite {
    ($($module:ident :: $case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() -> anyhow::Result<()> {
                    crate::support::run_sqlite(|wf| crate::$module::$case(wf)).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() -> anyhow::Result<()> {
                    crate::support::run_postgres(stringify!($case), |wf| crate::$module::$case(wf))
                        .await
                }
            )*
        }
    };
}

store_suite!(
    cases::submit_reads_back_and_refuses_duplicates,
    cases::edit_approve_and_post_by_hand,
    cases::stale_versions_and_unknown_ids_change_nothing,
    cases::concurrent_approvals_of_one_version_have_one_winner,
    cases::crisis_mode_needs_two_reviewers,
    cases::block_violations_need_an_override,
    cases::rejected_replies_never_reach_the_outbox,
    cases::approved_replies_feed_the_knowledge_base,
    cases::policies_are_validated_and_kept,
    cases::tokens_are_hashed_scoped_and_revocable,
    delivery::concurrent_claims_never_share_a_row,
    delivery::webhook_delivers_each_reply_once_signed,
    delivery::webhook_retries_with_backoff_then_delivers,
    delivery::webhook_dead_letters_after_max_attempts,
    delivery::client_errors_are_dead_lettered_at_once,
    delivery::restart_mid_delivery_redelivers_with_the_same_key,
    drafting::concurrent_drafting_claims_never_share_a_job,
    drafting::an_expired_drafting_lease_is_taken_over,
    drafting::a_stale_drafting_worker_is_refused_and_writes_nothing,
    drafting::requeued_claims_wait_for_drafting_again,
    drafting::the_worker_drafts_renews_and_requeues_on_shutdown,
    drafting::workers_share_the_queue_and_draft_each_job_once,
    drafting::a_job_that_keeps_killing_workers_fails,
    listings::listings_run_either_way_from_a_time_or_after_a_message,
    listings::the_newest_draft_sets_of_a_page_come_in_one_call,
    listings::recent_audit_is_newest_first_within_the_brands,
);
