{#- Incremental: `tmdb score` writes a score afresh only where a movie's features changed, so
    a build adds the scores this table does not hold yet (a score is its movie, model version,
    scoring time and digest), after a pre-hook drops the rows whose score is gone or replaced
    or whose movie left the marts; a post-hook moves `is_latest_model` when a newer model has
    scored. The result is what a full build gives, without copying every stored score and its
    factors each day. -#}
{{ config(
    materialized='incremental',
    unique_key=['movie_id', 'model_version'],
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    pre_hook=['{{ drop_predictions_without_their_score() }}', '{{ drop_movies_not_current() }}'],
    post_hook=['{{ move_latest_model_flag() }}'],
) }}

with

scores as (

    select * from {{ source('ml', 'movie_success_scores') }} as scored
    where {{ score_not_held('scored') }}

),

movies as (

    select * from {{ ref('int_movies__current') }}

),

latest_version as (

    -- from every stored score, not only the ones this build adds
    select {{ latest_scored_version() }} as model_version

),

final as (

    select
        scores.movie_id,
        scores.model_version,
        scores.success_probability,
        scores.predicted_success,
        scores.scored_at,
        scores.top_factors,
        scores.features_digest,
        coalesce(scores.model_version = latest_version.model_version, false)
            as is_latest_model

    from scores
    inner join movies
        on scores.movie_id = movies.movie_id
    left join latest_version
        on scores.model_version = latest_version.model_version

)

select * from final
