{#- For each movie, the track record of its primary director and its top-billed actors, from
    their films released strictly before this one (point in time: no future leakage).

    Incremental, at the grain of a movie's person in a role: a movie loaded since the last
    build gets all of its records again (the pre-hook drops its earlier ones: its people or
    date may have changed); a record of an unchanged movie is computed again only when its
    person's filmography in that role changed before the movie's release
    (`int_people__filmography.built_at` and `changed_from`, tombstones included: an earlier
    film's revenue filled in, a credit removed). A changed person's other records, and every
    other record, are unchanged by construction. The look-up of earlier films then reads the
    filmographies of the people concerned once (a hash join, not an index probe per record:
    the set is known only at run time, so the planner is told). -#}
{{
    config(
        materialized='incremental',
        unique_key=['movie_id', 'person_id', 'credit_role'],
        incremental_strategy='delete+insert',
        on_schema_change='append_new_columns',
        indexes=[{'columns': ['movie_id']}, {'columns': ['person_id', 'credit_role']}],
        meta={'tests_read_latest_build': true},
        pre_hook=["{{ drop_rewritten_movies() }}", "{{ plan_for_a_few_people() }}"],
    )
}}

{%- set loaded = last_build_watermark() | trim %}
{%- set built = last_build_watermark('built_at') | trim %}
{%- set catching_up = loaded and built %}

-- depends_on: {{ ref('stg_tmdb__movies') }}
-- depends_on: {{ ref('stg_tmdb__movie_deletions') }}
with

{% if catching_up %}

changed_people as (

    select
        person_id,
        credit_role,
        min(changed_from) as changed_from

    from {{ ref('int_people__filmography') }}
    where built_at > '{{ built }}'::timestamptz
    group by person_id, credit_role

),

touched as (

    {#- Records of movies not loaded since (the pre-hook dropped those) whose person's
        filmography changed before the movie's release: same people, rank, date and load. -#}
    select
        built.movie_id,
        built.person_id,
        built.credit_role,
        built.billing_rank,
        built.release_date,
        built.raw_load_id

    from {{ this }} as built
    inner join changed_people
        on
            built.person_id = changed_people.person_id
            and built.credit_role = changed_people.credit_role
            and built.release_date > changed_people.changed_from

),

{% endif %}

movies as (

    select * from {{ ref('int_movies__current') }}
    {%- if catching_up %}
        where raw_load_id > '{{ loaded }}'
    {%- endif %}

),

directors as (

    select * from {{ ref('int_movies__primary_director') }}
    where movie_id in (select movies.movie_id from movies)

),

cast_credits as (

    select * from {{ ref('stg_tmdb__movie_cast') }}
    where movie_id in (select movies.movie_id from movies)

),

cast_people as (

    select
        movie_id,
        person_id,
        min(cast_order) as cast_order

    from cast_credits
    group by movie_id, person_id

),

top_billed as (

    select
        movie_id,
        person_id,
        row_number() over (
            partition by movie_id
            order by cast_order, person_id
        ) as billing_rank

    from cast_people

),

billed as (

    select
        movie_id,
        director_person_id as person_id,
        'director' as credit_role,
        1 as billing_rank

    from directors

    union all

    select
        movie_id,
        person_id,
        'cast' as credit_role,
        billing_rank

    from top_billed
    where billing_rank <= {{ var('top_cast_size') }}

),

movie_people as (

    select
        billed.movie_id,
        billed.person_id,
        billed.credit_role,
        billed.billing_rank,
        this_movie.release_date,
        this_movie.raw_load_id

    from billed
    inner join movies as this_movie
        on billed.movie_id = this_movie.movie_id
    {%- if catching_up %}

    union all

    select
        movie_id,
        person_id,
        credit_role,
        billing_rank,
        release_date,
        raw_load_id

    from touched
    {%- endif %}

),

dated_people as (

    {#- Only a dated movie has earlier films. -#}
    select
        movie_id,
        person_id,
        credit_role,
        release_date

    from movie_people
    where release_date is not null

),

filmography as {% if catching_up %}materialized {% endif %}(

    select
        person_id,
        credit_role,
        release_date,
        reliable_revenue_usd,
        is_commercial_success

    from {{ ref('int_people__filmography') }}
    {%- if catching_up %}
        where
            is_current
            and (person_id, credit_role) in (
                select dated_people.person_id, dated_people.credit_role from dated_people
            )
    {%- else %}
        where is_current
    {%- endif %}

),

earlier_films as (

    select
        dated_people.movie_id,
        dated_people.person_id,
        dated_people.credit_role,
        earlier.release_date as earlier_release_date,
        earlier.reliable_revenue_usd as earlier_revenue_usd,
        earlier.is_commercial_success as was_earlier_success

    from dated_people
    inner join filmography as earlier
        on
            dated_people.person_id = earlier.person_id
            and dated_people.credit_role = earlier.credit_role
            and dated_people.release_date > earlier.release_date

),

records as (

    select
        movie_id,
        person_id,
        credit_role,
        count(*) as prior_film_count,
        count(was_earlier_success) as prior_labelled_film_count,
        (
            avg(case when was_earlier_success then 1.0 else 0.0 end)
            filter (where was_earlier_success is not null)
        )::double precision as prior_success_rate,
        percentile_cont(0.5) within group (
            order by earlier_revenue_usd
        ) as prior_median_revenue_usd

    from earlier_films
    group by movie_id, person_id, credit_role

),

final as (

    select
        movie_people.movie_id,
        movie_people.person_id,
        movie_people.credit_role,
        movie_people.billing_rank,
        movie_people.release_date,
        case
            when movie_people.release_date is not null
                then coalesce(records.prior_film_count, 0)
        end as prior_film_count,
        case
            when movie_people.release_date is not null
                then coalesce(records.prior_labelled_film_count, 0)
        end as prior_labelled_film_count,
        records.prior_success_rate,
        records.prior_median_revenue_usd,
        movie_people.raw_load_id,
        {{ built_at() }} as built_at

    from movie_people
    left join records
        on
            movie_people.movie_id = records.movie_id
            and movie_people.person_id = records.person_id
            and movie_people.credit_role = records.credit_role

)

select * from final
