{#- One row per person, named as most recently credited: the credit fetched last among the
    person's cast and crew credits on current movies (ties to the higher movie id, then to the
    lower name, gender and department, so that a build is a function of its inputs).

    Incremental: each row keeps the credit it comes from (`latest_credit_movie_id`,
    `latest_credit_fetched_at` and the record's load, `raw_load_id`), and a daily build
    compares it with the day's credits only (those of the current movies loaded since the last
    build): the newer wins. A kept credit stands unless its movie was loaded again or deleted
    (or turned adult) since; then the day's credit that beats it wins, and a person no day's
    credit beats (one of a few) is computed again from all of their credits. Computing again
    every person the day touched would read the prolific people's whole filmographies, a
    random heap read per credit: slower than the full build. A person left without a credit
    on a current movie gets an empty row, which the post-hook deletes. -#}
{{
    config(
        materialized='incremental',
        unique_key='person_id',
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        meta={'tests_read_latest_build': true},
        pre_hook=["{{ start_over_without_watermark() }}"],
        post_hook=["{{ drop_people_without_credits() }}"],
    )
}}

{%- set watermark = last_build_watermark() | trim %}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

loaded as {% if watermark %}materialized{% else %}not materialized{% endif %} (

    {#- The current movies whose credits this build reads: those loaded since the last build,
        every one on a full build. Materialized on a daily build, so that the planner probes
        the credits of these few thousand movies by index rather than read all of them;
        inlined on a full build, for a hash join. -#}
    select movie_id from {{ ref('int_movies__current') }}
    {%- if watermark %}
        where raw_load_id > '{{ watermark }}'
    {%- endif %}

),

credits as (

    {{ person_credits('movie_id in (select loaded.movie_id from loaded)') }}

),

{% if watermark %}

rewritten as (

    {#- Movies whose record was loaded again, or that were deleted, since the last build: a
        credit on one of them may be gone. -#}
    {{ movies_rewritten_since(watermark) }}

),

orphaned as materialized (

    {#- People whose kept credit no longer stands and whom no day's credit beats: their
        newest credit may be any of the others. -#}
    select built.person_id

    from {{ this }} as built
    where
        built.latest_credit_movie_id in (select rewritten.movie_id from rewritten)
        and not exists (
            select 1 from credits
            where
                credits.person_id = built.person_id
                and (credits.fetched_at, credits.movie_id)
                > (built.latest_credit_fetched_at, built.latest_credit_movie_id)
        )

),

orphaned_credits as (

    {#- All credits of those people, then those on current movies: one look-up of the
        current movies for both. -#}
    {{ person_credits('person_id in (select orphaned.person_id from orphaned)') }}

),

orphaned_current_credits as (

    select * from orphaned_credits
    where movie_id in (
        select current_movies.movie_id
        from {{ ref('int_movies__current') }} as current_movies
    )

),

candidates as (

    select * from credits

    union all

    select * from orphaned_current_credits

),

{% else %}

    candidates as (

        select * from credits

    ),

{% endif %}

ranked as (

    select
        *,
        row_number() over (
            partition by person_id
            order by
                fetched_at desc,
                movie_id desc,
                person_name asc,
                gender asc,
                known_for_department asc
        ) as recency_rank

    from candidates

),

latest as (

    select * from ranked
    where recency_rank = 1

),

{% if watermark %}

changed as (

    {#- A new person; a person whose day's credit beats the kept one; an orphaned person, and
        a person left without credits (an empty row the post-hook deletes). -#}
    select latest.*

    from latest
    left join {{ this }} as built
        on latest.person_id = built.person_id
    where
        built.person_id is null
        or (latest.fetched_at, latest.movie_id)
        > (built.latest_credit_fetched_at, built.latest_credit_movie_id)
        or latest.person_id in (select orphaned.person_id from orphaned)

    union all

    select
        orphaned.person_id,
        null as person_name,
        null as gender,
        null as known_for_department,
        null as movie_id,
        null as fetched_at,
        null as raw_load_id,
        null as recency_rank

    from orphaned
    where not exists (
        select 1 from latest
        where latest.person_id = orphaned.person_id
    )

),

{% else %}

    changed as (

        select * from latest

    ),

{% endif %}

final as (

    select
        person_id,
        person_name as name,  -- noqa: RF04
        gender,
        known_for_department,
        movie_id as latest_credit_movie_id,
        fetched_at as latest_credit_fetched_at,
        raw_load_id,
        {{ built_at() }} as built_at

    from changed

)

select * from final
