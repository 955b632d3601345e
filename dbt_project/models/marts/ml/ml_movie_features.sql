{#- Pre-release facts only: nothing here may depend on popularity, votes, revenue or anything
    else known after release (the label aside). The classifier's leakage test checks this.

    The rules a pre-release description shares (timing, reliable budget, director and cast
    track records) are macros of macros/ml_feature_rules.sql: /predict renders the same ones,
    so a movie gets the same features by id and described. The columns are ml.feature_spec's;
    tests/ml/test_feature_spec.py holds the two together.

    Incremental: a movie's row is computed again when anything it is computed from was written
    since this model's last build (`built_at`): its own record (`int_movies__current`), its
    genres (`bridge_movie_genres`, renames included) or one of its track records (a person's
    earlier film changed). The pre-hook `collect_changed_movies` lists them in a temporary
    table and analyses it: which movies changed is known only at run time, and a planner that
    guesses three where 40,000 changed unnests the whole catalogue's companies once per movie.
    Companies and keywords come from the movie's own record, so only reloaded movies read them
    from staging (by load id, through the raw table's index); the others keep theirs. Rows of
    movies no longer current go (pre-hook). `features_digest` is what a stored score is
    checked against: the digest of the features row, bookkeeping left out, so a row computed
    again unchanged keeps its scores. -#}
{{ config(
    materialized='incremental',
    unique_key='movie_id',
    incremental_strategy='delete+insert',
    on_schema_change='append_new_columns',
    meta={'tests_read_latest_build': true},
    pre_hook=['{{ collect_changed_movies() }}', '{{ drop_movies_not_current() }}'],
) }}
{%- set built = last_build_watermark('built_at') | trim %}
{%- set reloaded_from = '' %}
{%- if built and execute %}
    {%- set reloaded_from = run_query(
        "select coalesce(min(raw_load_id)::text, '') from " ~ ref('int_movies__current')
        ~ " where built_at > '" ~ built ~ "'::timestamptz"
    ).columns[0].values()[0] %}
{%- endif %}
{%- set only_changed = 'movie_id in (select changed.movie_id from changed)' if built else 'true' %}
{%- set only_reloaded = 'true' if not built
    else ("raw_load_id >= '" ~ reloaded_from ~ "'" if reloaded_from else 'false') %}

with

{% if built %}

changed as (

    select movie_id, is_reloaded from ml_movie_features__changed

),

kept_lists as (

    {#- A movie whose record was not reloaded keeps its companies and keywords. -#}
    select
        held.movie_id,
        held.production_company_names,
        held.production_company_count,
        held.keyword_count

    from {{ this }} as held
    inner join changed
        on held.movie_id = changed.movie_id
    where not changed.is_reloaded

),

{% endif %}

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ only_changed }}

),

financials as (

    select * from {{ ref('int_movies__financials') }}
    where {{ only_changed }}

),

certifications as (

    select * from {{ ref('int_movies__us_certification') }}
    where {{ only_changed }}

),

movie_genres as (

    select * from {{ ref('bridge_movie_genres') }}
    where {{ only_changed }}

),

companies as (

    select * from {{ ref('stg_tmdb__movie_production_companies') }}
    where {{ only_reloaded }}

),

keywords as (

    select * from {{ ref('stg_tmdb__movie_keywords') }}
    where {{ only_reloaded }}

),

track_records as (

    select * from {{ ref('int_movie_people__track_records') }}
    where {{ only_changed }}

),

genre_lists as (

    select
        movie_id,
        array_agg(genre_name order by genre_position) as genre_names,
        count(*) as genre_count,
        min(genre_name) filter (where is_primary_genre) as primary_genre

    from movie_genres
    group by movie_id

),

company_lists as (

    select
        movie_id,
        array_agg(company_name order by company_position) as production_company_names,
        count(distinct company_id) as production_company_count

    from companies
    group by movie_id
    {{- ' union all select movie_id, production_company_names, production_company_count'
        ~ ' from kept_lists' if built }}

),

keyword_counts as (

    select
        movie_id,
        count(distinct keyword_id) as keyword_count

    from keywords
    group by movie_id
    {{- ' union all select movie_id, keyword_count from kept_lists' if built }}

),

director_records as (

    select
        track_records.movie_id,
        {{ ml_director_record('track_records') }}

    from track_records
    where track_records.credit_role = 'director'

),

cast_records as (

    select
        track_records.movie_id,
        {{ ml_cast_record('track_records') }}

    from track_records
    where track_records.credit_role = 'cast'
    group by track_records.movie_id

),

final as (

    select
        -- ids and the point in time
        movies.movie_id,
        movies.release_date,

        -- timing
        {{ ml_release_timing('movies.release_date') }},

        -- the production
        {{ ml_reliable_budget('movies.budget_usd') }} as budget_usd,
        movies.runtime_minutes,
        movies.original_language,
        certifications.us_certification,
        coalesce(genre_lists.genre_names, array[]::text []) as genre_names,
        coalesce(genre_lists.genre_count, 0) as genre_count,
        genre_lists.primary_genre,
        movies.collection_id is not null as is_in_collection,
        coalesce(company_lists.production_company_names, array[]::text [])
            as production_company_names,
        coalesce(company_lists.production_company_count, 0) as production_company_count,
        coalesce(keyword_counts.keyword_count, 0) as keyword_count,

        -- track records as of the release date
        director_records.director_prior_film_count,
        director_records.director_prior_success_rate,
        director_records.director_prior_median_revenue_usd,
        coalesce(cast_records.top_cast_count, 0) as top_cast_count,
        cast_records.cast_prior_film_count,
        cast_records.cast_prior_success_rate,
        cast_records.cast_prior_median_revenue_usd,

        -- the label
        financials.is_commercial_success

    from movies
    inner join financials
        on movies.movie_id = financials.movie_id
    left join certifications
        on movies.movie_id = certifications.movie_id
    left join genre_lists
        on movies.movie_id = genre_lists.movie_id
    left join company_lists
        on movies.movie_id = company_lists.movie_id
    left join keyword_counts
        on movies.movie_id = keyword_counts.movie_id
    left join director_records
        on movies.movie_id = director_records.movie_id
    left join cast_records
        on movies.movie_id = cast_records.movie_id

)

select
    final.*,
    -- the whole row as text: the same digest as the row's before these columns existed
    md5(final::text) as features_digest,  -- noqa: RF03
    {{ built_at() }} as built_at

from final
