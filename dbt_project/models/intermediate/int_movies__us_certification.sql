{#- MPA ratings only (seed `us_mpa_ratings`): TV ratings (TV-MA…) and free text are not
    theatrical certifications. Incremental: the movies loaded since the last build are picked
    again (a deleted movie keeps its row, as staging keeps its record). -#}
{{ movie_grained_incremental(indexes=[{'columns': ['movie_id']}], deleted_too=false) }}

-- depends_on: {{ ref('stg_tmdb__movies') }}
with

release_dates as (

    select * from {{ ref('stg_tmdb__movie_release_dates') }}
    where {{ loaded_since_last_build('raw_load_id') }}

),

mpa_ratings as (

    select * from {{ ref('us_mpa_ratings') }}

),

us_ratings as (

    select
        movie_id,
        certification,
        release_type,
        release_date,
        raw_load_id,
        -- theatrical first, then limited theatrical, then premiere, then home releases
        case release_type
            when 3 then 1
            when 2 then 2
            when 1 then 3
            else 4
        end as release_type_preference

    from release_dates
    where
        country_code = 'US'
        and certification in (select mpa_ratings.rating from mpa_ratings)

),

ranked as (

    select
        *,
        row_number() over (
            partition by movie_id
            order by release_type_preference, release_date nulls last, certification
        ) as pick_rank

    from us_ratings

),

final as (

    select
        movie_id,
        certification as us_certification,
        release_type as us_certification_release_type,
        raw_load_id,
        {{ built_at() }} as built_at

    from ranked
    where pick_rank = 1

)

select * from final
