{% macro create_prediction_landing_table() -%}
    {#- `tmdb score` writes here; the mart `movie_success_predictions` reads it. Created empty
        up front so the project builds before any model has been trained; the later columns
        are added to a table made before they existed. -#}
    create schema if not exists ml;
    create table if not exists ml.movie_success_scores (
        movie_id bigint not null,
        model_version text not null,
        success_probability double precision not null,
        predicted_success boolean not null,
        scored_at timestamp with time zone not null,
        top_factors jsonb,
        features_digest text,
        primary key (movie_id, model_version)
    );
    alter table ml.movie_success_scores add column if not exists top_factors jsonb;
    alter table ml.movie_success_scores add column if not exists features_digest text;
{%- endmacro %}

{% macro latest_scored_version() -%}
    {#- The model version scored most recently: its scores are "the current prediction". -#}
    (
        select scores.model_version
        from {{ source('ml', 'movie_success_scores') }} as scores
        order by scores.scored_at desc, scores.model_version desc
        limit 1
    )
{%- endmacro %}

{% macro same_score(held, scored) -%}
    {#- A row of the predictions mart holds this stored score: a score is its movie, model
        version, scoring time and digest (`tmdb score` deletes and writes, never updates). -#}
    {{ held }}.movie_id = {{ scored }}.movie_id
    and {{ held }}.model_version = {{ scored }}.model_version
    and {{ held }}.scored_at = {{ scored }}.scored_at
    and {{ held }}.features_digest is not distinct from {{ scored }}.features_digest
{%- endmacro %}

{% macro score_not_held(scored) -%}
    {#- The predictions mart's filter on stored scores: on an incremental build, only those it
        does not hold yet. -#}
    {%- if is_incremental() -%}
        not exists (
            select from {{ this }} as held
            where {{ same_score('held', scored) }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{% macro drop_predictions_without_their_score() -%}
    {#- Pre-hook of the incremental predictions mart: rows whose score `tmdb score` deleted or
        wrote again (its features changed). The rows of movies that left the marts go in a
        statement of their own (`drop_movies_not_current`): `not exists … or not exists …` is
        run as a correlated probe per row (minutes at 300,000 movies). -#}
    {%- if is_incremental() -%}
        delete from {{ this }} as held
        where not exists (
            select from {{ source('ml', 'movie_success_scores') }} as scored
            where {{ same_score('held', 'scored') }}
        )
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}

{% macro move_latest_model_flag() -%}
    {#- Post-hook of the incremental predictions mart: when a newer model version has scored,
        its rows become the latest and the others stop being (no-op on other days). -#}
    {%- if is_incremental() -%}
        update {{ this }}
        set is_latest_model = coalesce(model_version = {{ latest_scored_version() }}, false)
        where is_latest_model
        is distinct from coalesce(model_version = {{ latest_scored_version() }}, false)
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
