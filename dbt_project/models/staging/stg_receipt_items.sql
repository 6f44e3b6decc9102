with source as (
    select * from {{ source('raw', 'receipt_items') }}
),

renamed as (
    select
        cast(submission_id as varchar) as submission_id,
        cast(quarter as varchar) as quarter,
        cast(unit_code as varchar) as unit_code,
        cast(severity as varchar) as severity,
        cast(kind as varchar) as item_kind,
        cast(sheet as varchar) as sheet_name,
        cast(excel_row as bigint) as excel_row,
        cast(column_header as varchar) as column_header,
        cast(value as varchar) as offending_value,
        cast(message as varchar) as message
    from source
)

select * from renamed
