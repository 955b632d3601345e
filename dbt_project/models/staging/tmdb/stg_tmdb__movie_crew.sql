with

source as (

    select * from {{ source('tmdb', 'movies') }}

),

unnested as (

    select
        -- ids
        source.id as movie_id,
        (credit.value ->> 'id')::bigint as person_id,
        credit.value ->> 'credit_id' as credit_id,

        -- text
        {{ unknown_if_blank("credit.value ->> 'name'") }} as person_name,
        {{ unknown_if_blank("credit.value ->> 'department'") }} as department,
        {{ unknown_if_blank("credit.value ->> 'job'") }} as job,
        {{ gender_label("(credit.value ->> 'gender')::integer") }} as gender,
        {{ unknown_if_blank("credit.value ->> 'known_for_department'") }} as known_for_department,

        -- numerics
        credit.position::integer as crew_position,

        -- dates and timestamps
        source._fetched_at as fetched_at

    from source
    cross join
        lateral
        jsonb_array_elements({{ json_array("source.credits -> 'crew'") }})
        with ordinality as credit (value, position)
    where jsonb_typeof(credit.value -> 'id') = 'number'

)

select * from unnested
