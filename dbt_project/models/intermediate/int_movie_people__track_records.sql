{#- For each movie, the track record of its primary director and its top-billed actors, from
    their films released strictly before this one (point in time: no future leakage).

    Incremental, at the grain of a movie's person in a role: a movie loaded since the last
    build gets all of its records again (the pre-hook drops its earlier ones: its people or
    date may have changed); a record of an unchanged movie is computed again only when its
    person's filmography in that role changed before the movie's release
    (`int_people__filmography.built_at` and `changed_from`, tombstones included: an earlier
    film's revenue filled in, a credit removed). A changed person's other records, and every
    other record, are unchanged by construction.

    Two ways to the same figures: a full build counts over each filmography with a running
    sum (sorted once per person) and joins each record to its earlier films with a revenue
    for the median; a day's few records each read their earlier films by a range scan of
    the filmography's covering index (`index_earlier_films`). The incremental build is held
    equal to a full one by tests/dbt/test_marts_match_catalogue.py. -#}
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

{% if catching_up %}

records as (

    {#- A day's few records, each from its person's earlier films read by a range scan of the
        filmography's covering index (`index_earlier_films`): index entries only, no table
        rows, no sort of the people's whole filmographies. -#}
    select
        dated_people.movie_id,
        dated_people.person_id,
        dated_people.credit_role,
        earlier.prior_film_count,
        earlier.prior_labelled_film_count,
        earlier.prior_success_rate,
        earlier.prior_median_revenue_usd

    from dated_people
    cross join lateral (
        select
            count(*) as prior_film_count,
            count(films.is_commercial_success) as prior_labelled_film_count,
            (
                avg(case when films.is_commercial_success then 1.0 else 0.0 end)
                filter (where films.is_commercial_success is not null)
            )::double precision as prior_success_rate,
            percentile_cont(0.5) within group (
                order by films.reliable_revenue_usd
            ) as prior_median_revenue_usd

        from {{ ref('int_people__filmography') }} as films
        where
            films.is_current
            and films.person_id = dated_people.person_id
            and films.credit_role = dated_people.credit_role
            and films.release_date < dated_people.release_date
    ) as earlier

),

{% endif %}

{% if not catching_up %}

    filmography as (

        -- The people's dated films: an undated film is never earlier than another.
        select
            person_id,
            credit_role,
            release_date,
            reliable_revenue_usd,
            is_commercial_success

        from {{ ref('int_people__filmography') }}
        where
            is_current
            and release_date is not null

    ),

    timeline as (

        -- Each person's films, and a marker for each of their records placed before the films
        -- of the record's own date: a running sum down this timeline, read at a marker, counts
        -- the films released strictly before the record's movie.
        select
            person_id,
            credit_role,
            release_date,
            1 as timeline_order,
            null::bigint as movie_id,
            1 as films,
            case when is_commercial_success is not null then 1 else 0 end as labelled_films,
            case when is_commercial_success then 1 else 0 end as successes

        from filmography

        union all

        select
            person_id,
            credit_role,
            release_date,
            0 as timeline_order,
            movie_id,
            0 as films,
            0 as labelled_films,
            0 as successes

        from dated_people

    ),

    running_counts as (

        -- Counts from a running sum over each filmography, sorted once: joining each record to
        -- all its earlier films costs the square of a prolific person's film count (5.8 M rows
        -- for a day's 56,000 records at 300,000 films).
        select
            movie_id,
            person_id,
            credit_role,
            timeline_order,
            sum(films) over running as prior_film_count,
            sum(labelled_films) over running as prior_labelled_film_count,
            sum(successes) over running as prior_successes

        from timeline
        window running as (
            partition by person_id, credit_role
            order by release_date, timeline_order
            rows between unbounded preceding and current row
        )

    ),

    prior_counts as (

        select
            movie_id,
            person_id,
            credit_role,
            prior_film_count,
            prior_labelled_film_count,
            prior_successes

        from running_counts
        where timeline_order = 0

    ),

    earlier_revenues as (

        -- A median cannot run over a window: it reads the earlier films that have a revenue,
        -- the only ones it counts.
        select
            dated_people.movie_id,
            dated_people.person_id,
            dated_people.credit_role,
            earlier.reliable_revenue_usd

        from dated_people
        inner join filmography as earlier
            on
                dated_people.person_id = earlier.person_id
                and dated_people.credit_role = earlier.credit_role
                and dated_people.release_date > earlier.release_date
        where earlier.reliable_revenue_usd is not null

    ),

    prior_medians as (

        select
            movie_id,
            person_id,
            credit_role,
            percentile_cont(0.5) within group (
                order by reliable_revenue_usd
            ) as prior_median_revenue_usd

        from earlier_revenues
        group by movie_id, person_id, credit_role

    ),

    records as (

        select
            dated_people.movie_id,
            dated_people.person_id,
            dated_people.credit_role,
            prior_counts.prior_film_count,
            prior_counts.prior_labelled_film_count,
            (
                prior_counts.prior_successes * 1.0
                / nullif(prior_counts.prior_labelled_film_count, 0)
            )::double precision as prior_success_rate,
            prior_medians.prior_median_revenue_usd

        from dated_people
        inner join prior_counts
            on
                dated_people.movie_id = prior_counts.movie_id
                and dated_people.person_id = prior_counts.person_id
                and dated_people.credit_role = prior_counts.credit_role
        left join prior_medians
            on
                dated_people.movie_id = prior_medians.movie_id
                and dated_people.person_id = prior_medians.person_id
                and dated_people.credit_role = prior_medians.credit_role

    ),

{% endif %}

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
