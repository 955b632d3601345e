{#- Every film of every person, in the two roles whose track record predicts success.

    Incremental: the rows of movies loaded (or deleted) since the last build are rewritten. A
    row whose content did not change keeps its `built_at`; a row the movie no longer has (a
    credit removed, the movie deleted or turned adult) stays one more time as a tombstone
    (`is_current` false, `built_at` of this run), so that track records can tell whose
    filmography changed by reading `built_at` alone, and from which release date on
    (`changed_from`: only films released after it have another track record). Tombstones go
    after a week.

    The track records of a day read each person's earlier films from a covering index
    (`index_earlier_films`); the vacuum after each build keeps the table's visibility map
    current, so those reads stay on the index instead of fetching the rows. -#}
{{
    config(
        materialized='incremental',
        unique_key='movie_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[
            {'columns': ['movie_id']},
            {'columns': ['person_id', 'credit_role', 'release_date']},
            {'columns': ['built_at']},
        ],
        meta={'tests_read_latest_build': true},
        pre_hook=["{{ purge_tombstones() }}"],
        post_hook=[
            "{{ index_earlier_films() }}",
            {"sql": "vacuum {{ this }}", "transaction": false},
        ],
    )
}}

{%- set watermark = last_build_watermark() | trim %}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

movies as (

    select * from {{ ref('int_movies__current') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

financials as (

    select * from {{ ref('int_movies__financials') }}
    where movie_id in (select movies.movie_id from movies)

),

crew as (

    select * from {{ ref('stg_tmdb__movie_crew') }}
    where movie_id in (select movies.movie_id from movies)

),

cast_credits as (

    select * from {{ ref('stg_tmdb__movie_cast') }}
    where movie_id in (select movies.movie_id from movies)

),

credits as (

    select distinct
        movie_id,
        person_id,
        'director' as credit_role

    from crew
    where job = 'Director'

    union

    select distinct
        movie_id,
        person_id,
        'cast' as credit_role

    from cast_credits

),

fresh as (

    select
        credits.person_id,
        credits.credit_role,
        credits.movie_id,
        movies.release_date,
        case
            when financials.is_revenue_reliable then financials.revenue_usd
        end as reliable_revenue_usd,
        financials.is_commercial_success,
        movies.raw_load_id

    from credits
    inner join movies
        on credits.movie_id = movies.movie_id
    inner join financials
        on credits.movie_id = financials.movie_id

),

{% if watermark %}

rewritten as (

    select movie_id from {{ ref('stg_tmdb__movies') }}
    where raw_load_id > '{{ watermark }}'

    union

    select movie_id from {{ ref('stg_tmdb__movie_deletions') }}
    where raw_load_id > '{{ watermark }}'

),

earlier as (

    select * from {{ this }}
    where
        is_current
        and movie_id in (select rewritten.movie_id from rewritten)

),

compared as (

    {#- A fresh row against its earlier version: unchanged when it had one with the same
        date, revenue and label. -#}
    select
        fresh.*,
        earlier.built_at as earlier_built_at,
        earlier.changed_from as earlier_changed_from,
        least(earlier.release_date, fresh.release_date) as touched_from,
        (
            earlier.movie_id is not null
            and earlier.release_date is not distinct from fresh.release_date
            and earlier.reliable_revenue_usd is not distinct from fresh.reliable_revenue_usd
            and earlier.is_commercial_success is not distinct from fresh.is_commercial_success
        ) as is_unchanged

    from fresh
    left join earlier
        on
            fresh.person_id = earlier.person_id
            and fresh.credit_role = earlier.credit_role
            and fresh.movie_id = earlier.movie_id

),

final as (

    select
        person_id,
        credit_role,
        movie_id,
        release_date,
        reliable_revenue_usd,
        is_commercial_success,
        raw_load_id,
        true as is_current,
        case when is_unchanged then earlier_built_at else {{ built_at() }} end as built_at,
        case when is_unchanged then earlier_changed_from else touched_from end as changed_from

    from compared

    union all

    select
        earlier.person_id,
        earlier.credit_role,
        earlier.movie_id,
        earlier.release_date,
        earlier.reliable_revenue_usd,
        earlier.is_commercial_success,
        earlier.raw_load_id,
        false as is_current,
        {{ built_at() }} as built_at,
        earlier.release_date as changed_from

    from earlier
    where not exists (
        select 1 from fresh
        where
            fresh.person_id = earlier.person_id
            and fresh.credit_role = earlier.credit_role
            and fresh.movie_id = earlier.movie_id
    )

)

{% else %}

    final as (

        select
            fresh.*,
            true as is_current,
            {{ built_at() }} as built_at,
            fresh.release_date as changed_from

        from fresh

    )

{% endif %}

select * from final
