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
