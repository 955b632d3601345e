with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

unnested as (

    select
        -- ids
        source.id as movie_id,
        (keyword.value ->> 'id')::bigint as keyword_id,

        -- text
        {{ unknown_if_blank("keyword.value ->> 'name'") }} as keyword_name,

        -- dates and timestamps
        source._dlt_load_id as raw_load_id

    from source
    cross join
        lateral
        jsonb_array_elements({{ json_array("source.keywords -> 'keywords'") }}) as keyword (value)
    where jsonb_typeof(keyword.value -> 'id') = 'number'

)

select * from unnested
