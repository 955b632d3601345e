with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

unnested as (

    select
        -- ids
        source.id as movie_id,
        (company.value ->> 'id')::bigint as company_id,

        -- text
        {{ unknown_if_blank("company.value ->> 'name'") }} as company_name,
        {{ unknown_if_blank("company.value ->> 'origin_country'") }} as origin_country,

        -- numerics
        company.position::integer as company_position,

        -- dates and timestamps
        source._dlt_load_id as raw_load_id

    from source
    cross join
        lateral
        jsonb_array_elements({{ json_array('source.production_companies') }})
        with ordinality as company (value, position)
    where jsonb_typeof(company.value -> 'id') = 'number'

)

select * from unnested
