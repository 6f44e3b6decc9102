{#- Tables are replaced inside one transaction: drop the old table, create the new one, commit (issue 16).

    dbt-duckdb's table materialization builds `<name>__dbt_tmp`, looks up the old table's indexes, renames
    the old table to `<name>__dbt_backup` and the new one into place, commits, and drops the backup in a
    second transaction, besides the foreign-key and constraint look-ups: seven statements for each
    table, each a round trip through dbt's adapter, its events and, for the look-ups, an agate table, on
    the busy 2-core machine ~20-40 ms of Python per table whatever its size. This project's tables have
    no indexes, foreign keys or grants, nobody reads the build file while dbt writes it (one writer,
    pipelines/publish/warehouse.py), and DuckDB's DDL is transactional: a model that fails rolls back to
    the old table as the rename dance did, and the new table's rows are the same query's rows.

    What dbt-duckdb's version does and this one keeps: pre- and post-hooks (in and outside the
    transaction), an existing view of the same name replaced, enforced contracts (create_table_as checks
    the columns and declares the constraints, as before), and indexes, grants and persisted docs when a
    model configures them (none does: each is a no-op without SQL then). What it refuses: foreign-key
    constraints (dbt-duckdb rebuilds their dependents; none here) and Python models. -#}
{% materialization table, adapter='duckdb', supported_languages=['sql'] %}
    {%- if 'foreign_key' in enforced_constraint_types() -%}
        {{- exceptions.raise_compiler_error(
            "macros/table.sql does not handle foreign keys: use dbt-duckdb's table materialization") -}}
    {%- endif -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {#- `BEGIN` happens with the first statement: the old relation goes in the same transaction as the new
        table comes, so a failure leaves the old one. -#}
    {%- call statement('main') -%}
        {%- if existing_relation is not none and not existing_relation.is_table %}
        drop {{ existing_relation.type }} if exists {{ existing_relation }};
        {%- else %}
        drop table if exists {{ target_relation }};
        {%- endif %}
        {{ create_table_as(False, target_relation, compiled_code) }}
    {%- endcall -%}

    {%- do create_indexes(target_relation) -%}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {%- do apply_grants(target_relation, grant_config, should_revoke=should_revoke(existing_relation, full_refresh_mode=True)) -%}
    {%- do persist_docs(target_relation, model) -%}

    {{ adapter.commit() }}

    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {%- if existing_relation is not none and not existing_relation.is_table -%}
        {%- do adapter.cache_dropped(existing_relation) -%}
    {%- endif -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
