with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

countries as (

    select
        source.id as movie_id,
        country.value as country_release,
        source._dlt_load_id as raw_load_id

    from source
    cross join
        lateral
        jsonb_array_elements({{ json_array("source.release_dates -> 'results'") }})
            as country (value)

),

unnested as (

    select
        -- ids
        countries.movie_id,

        -- text
        upper({{ unknown_if_blank("countries.country_release ->> 'iso_3166_1'") }}) as country_code,
        upper({{ unknown_if_blank("dated_release.value ->> 'certification'") }}) as certification,
        {{ unknown_if_blank("dated_release.value ->> 'note'") }} as release_note,

        -- numerics
        (dated_release.value ->> 'type')::integer as release_type,

        -- dates and timestamps
        {{ safe_date("left(dated_release.value ->> 'release_date', 10)") }} as release_date,
        countries.raw_load_id

    from countries
    cross join
        lateral
        jsonb_array_elements({{ json_array("countries.country_release -> 'release_dates'") }})
            as dated_release (value)

)

select * from unnested
