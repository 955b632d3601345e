{% macro grant_marts_usage(role) -%}
    {#- dbt's `grants` give SELECT on each mart; the role also needs USAGE on the schema. -#}
    {%- if execute -%}
        do $$
        begin
            if exists (select from pg_roles where rolname = '{{ role }}')
               and exists (select from pg_namespace where nspname = 'marts') then
                execute 'grant usage on schema marts to {{ role }}';
            end if;
        end
        $$;
    {%- endif -%}
{%- endmacro %}
