with

filmography as (

    select * from {{ ref('int_people__filmography') }}

),

final as (

    select
        person_id,
        credit_role,
        movie_id,
        release_date,
        reliable_revenue_usd,
        is_commercial_success

    from filmography

)

select * from final
