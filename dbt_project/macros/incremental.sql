{#- Quarter-grain incremental models in a unit-scoped build append their fresh rows with one INSERT … BY NAME
    (issue 16).

    dbt-duckdb's incremental materialization first writes the model's rows to a temporary table, then
    describes it and the target (two DESCRIBEs, each an agate table) to widen column types and apply
    `on_schema_change`, and only then inserts the temporary table's rows into the target: four statements
    besides the pre-hook's delete, ~25-35 ms of Python per model on the busy 2-core machine, 18 models
    in each quarter build. The column comparison can only find a difference when the model's SQL (or what it
    reads) changed since the target was built. In a build whose scope lists units it cannot have: the scope
    lists units only while the global key (the registry, the rules and every file of the dbt project,
    pipelines/defs/dbt/scope.py) is the one recorded by the last successful build of the file, whose
    quarter step built these tables with the same SQL. There the rows are inserted by column name straight
    from the model's query, inside the same transaction as the pre-hook's delete; an enforced contract is
    still checked against the query first (get_assert_columns_equivalent, as dbt-duckdb does).

    Everything else takes dbt-duckdb's own materialization, unchanged: a build without a unit list (the
    first build after any change of the key, a build by hand, --vars quarter), a missing target,
    --full-refresh, another strategy than append, a sql_header. -#}
{% macro lean_append_applies(existing_relation) -%}
    {{- return(
        existing_relation is not none and existing_relation.is_table
        and not should_full_refresh()
        and config.get('incremental_strategy') == 'append'
        and config.get('sql_header') is none
        and scope_lists_units()
    ) -}}
{%- endmacro %}

{% materialization incremental, adapter='duckdb', supported_languages=['sql'] %}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if not lean_append_applies(existing_relation) -%}
        {{- return(dbt.materialization_incremental_duckdb()) -}}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {#- `BEGIN` happens here, with the pre-hook's delete (delete_selected_quarters) -#}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set contract_config = config.get('contract') -%}
    {%- if contract_config and contract_config.enforced -%}
        {{ get_assert_columns_equivalent(compiled_code) }}
    {%- endif -%}
    {#- the query on lines of its own: a model's last line may be a comment -#}
    {%- call statement('main') -%}
        insert into {{ target_relation }} by name
        select * from (
            {{ compiled_code }}
        ) as dbt_incremental_rows
    {%- endcall -%}

    {%- do persist_docs(target_relation, model) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}

    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
